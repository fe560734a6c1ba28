"""Data-parallel training, one process against several: wall time and validation recall.

Each row is one `movierec run` (the same config, seed and data), launched plainly for
one process and through `torchrun --standalone --nproc-per-node N` for more; the cores
are shared out (torch threads = cores // processes), so on a 2-core machine the
comparison is 1 process x 2 threads against 2 processes x 1 thread. Writes
``benchmarks/results/bench_ddp.json`` and prints a markdown table.

Usage::

    MOVIEREC_DATA_DIR=../shared/data python benchmarks/bench_ddp.py --preset ml100k
    python benchmarks/bench_ddp.py --preset competition --data /tmp/movierec-bench/competition-s0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from movierec.atomic import atomic_write_bytes

RESULTS = Path("benchmarks/results/bench_ddp.json")
CONFIGS = {"ml100k": "benchmarks/configs/ddp-ml100k.toml", "competition": "benchmarks/configs/ddp-competition.toml"}


def launch(processes: int) -> list[str]:
    if processes == 1:
        return [sys.executable, "-m", "movierec.cli"]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
            "-m", "movierec.cli"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(CONFIGS), required=True)
    parser.add_argument("--data", help="competition preset folder (movierec data synth --preset competition)")
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--runs-dir", default="runs/bench-ddp")
    args = parser.parse_args()
    if args.preset == "ml100k":
        shared = Path(os.environ.get("MOVIEREC_DATA_DIR", "../shared/data")).resolve().parent
        where = ["--split-dir", str(shared / "splits" / "ml100k-mixed-s0"), "--data", "ml-100k"]  # FM's side fields
    elif args.data:
        where = ["--data", args.data]
    else:
        raise SystemExit("--preset competition needs --data FOLDER (movierec data synth --preset competition)")
    rows = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    cores = os.cpu_count() or 1
    for processes in map(int, args.processes.split(",")):
        out = Path(args.runs_dir) / f"{args.preset}-{processes}"
        threads = max(1, cores // processes)
        command = [*launch(processes), "run", "--config", CONFIGS[args.preset], *where, "--out", str(out),
                   "--threads", str(threads), "--quiet"]
        print(f"$ {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        subprocess.run(command, check=True)
        seconds = time.perf_counter() - started
        models = json.loads((out / "metrics.json").read_text())["models"]
        row = {"preset": args.preset, "processes": processes, "threads_each": threads, "cores": cores,
               "wall_s": round(seconds, 1),
               "models": {name: {"valid_recall@10": m["valid"]["recall@10"], "test_recall@10": m["test"]["recall@10"],
                                 "seconds": m["seconds"], "epochs": len(m["curve"])} for name, m in models.items()}}
        rows = [r for r in rows if (r["preset"], r["processes"]) != (args.preset, processes)] + [row]
        atomic_write_bytes(RESULTS, (json.dumps(rows, indent=1) + "\n").encode())
    print(markdown(rows))


def markdown(rows: list[dict]) -> str:
    lines = ["| preset | model | processes x threads | epochs | model s | valid R@10 | test R@10 |", "|---" * 7 + "|"]
    for row in rows:
        for name, m in row["models"].items():
            lines.append(f"| {row['preset']} | {name} | {row['processes']} x {row['threads_each']} | {m['epochs']} | "
                         f"{m['seconds']:.0f} | {m['valid_recall@10']:.4f} | {m['test_recall@10']:.4f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
