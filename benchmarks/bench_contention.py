"""A run on a machine busy with other work: slowdown against the quiet run, by thread setting.

The same `movierec run` (ml-100k, pop, ease and FM with the ensemble) is timed on a
quiet machine and while `--load` processes spin on the CPU (pure Python busy loops,
started before the run and stopped after it), once with ``--threads`` equal to every
core (what torch and OpenBLAS take when nobody sets a count: the behaviour before the
option existed) and once with the default (the cores free at start). A run that
passes `--cap` times its quiet time is stopped and reported as such. Writes
``benchmarks/results/bench_contention.json`` and prints a markdown table.

Usage::

    MOVIEREC_DATA_DIR=../shared/data python benchmarks/bench_contention.py --load 3
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from movierec.atomic import atomic_write_bytes
from movierec.threads import available_cores

RESULTS = Path("benchmarks/results/bench_contention.json")
RUN = ["run", "--data", "ml-100k", "--models", "pop,ease,fm", "--ensemble", "--quiet"]


def spin() -> None:
    while True:
        pass


def timed_run(threads: int | None, out: Path, limit: float | None) -> tuple[float | None, str]:
    """Wall seconds of one run (None when stopped at `limit`) and its thread note."""
    command = [sys.executable, "-m", "movierec.cli", *RUN, "--out", str(out)]
    if threads is not None:
        command += ["--threads", str(threads)]
    started = time.perf_counter()
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=limit, check=True)
    except subprocess.TimeoutExpired:
        return None, "stopped"
    note = result.stdout.strip().splitlines()[-1]
    return time.perf_counter() - started, note[note.rfind(";") + 1:].rstrip(")").strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", type=int, default=3, help="busy processes during the loaded runs")
    parser.add_argument("--cap", type=float, default=6.0, help="stop a loaded run past this many quiet times")
    args = parser.parse_args()
    cores = available_cores()
    settings = {f"--threads {cores} (every core, as before)": cores, "default (free cores)": None}
    rows = []
    with tempfile.TemporaryDirectory(prefix="movierec-contention-") as folder:
        for label, threads in settings.items():
            quiet, quiet_note = timed_run(threads, Path(folder) / "quiet", None)
            context = multiprocessing.get_context("spawn")
            spinners = [context.Process(target=spin, daemon=True) for _ in range(args.load)]
            for process in spinners:
                process.start()
            try:
                time.sleep(2.0)  # the load is running before the run measures the free cores
                loaded, loaded_note = timed_run(threads, Path(folder) / "loaded", args.cap * quiet)
            finally:
                for process in spinners:
                    process.terminate()
                    process.join()
            rows.append({"setting": label, "cores": cores, "load": args.load, "quiet_s": round(quiet, 1),
                         "quiet_threads": quiet_note, "loaded_s": None if loaded is None else round(loaded, 1),
                         "loaded_threads": loaded_note,
                         "slowdown": None if loaded is None else round(loaded / quiet, 2), "cap": args.cap})
            print(rows[-1], flush=True)
            time.sleep(5.0)  # let the machine settle before the next quiet run
    atomic_write_bytes(RESULTS, (json.dumps(rows, indent=1) + "\n").encode())
    print(f"| setting | quiet (s) | with {args.load} busy processes (s) | slowdown |\n|---|---|---|---|")
    for row in rows:
        loaded = f"{row['loaded_s']}" if row["loaded_s"] is not None else f"> {row['cap'] * row['quiet_s']:.0f} (stopped)"
        slowdown = f"{row['slowdown']}x" if row["slowdown"] is not None else f"> {row['cap']}x"
        print(f"| {row['setting']}: {row['quiet_threads']} / {row['loaded_threads']} | {row['quiet_s']} | {loaded} "
              f"| {slowdown} |")


if __name__ == "__main__":
    main()
