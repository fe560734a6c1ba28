"""movierec speed and memory benchmarks on synthetic MovieLens-like data.

Writes ``benchmarks/results/<preset>.json``, a plot per preset
(``benchmarks/results/<preset>.png``) and ``benchmarks/RESULTS.md`` (every preset
whose JSON exists). Every task runs in its own process so its peak memory is its own;
figures that must be compared (EASE against the GEMM bound and ``np.linalg.inv``) are
measured side by side in one process, because this machine is shared and noisy.

Usage::

    python benchmarks/run.py --preset competition            # everything, ~10 min here
    python benchmarks/run.py --preset ml20m --only e2e --e2e-config benchmarks/configs/ml20m.toml
    python benchmarks/run.py --report-only                   # rebuild RESULTS.md and plots

Synthetic data goes to ``--work`` (default ``$MOVIEREC_BENCH_DIR`` or /tmp/movierec-bench),
generated once per preset and seed with ``movierec data synth``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TASKS = ("ease", "ranking", "sampling", "knn", "readers", "e2e", "fm")
# per preset: EASE sizes, ranking cases (model, items, users), reader sources
PLANS = {
    "ml100k": {"ease": [1000, 1682], "ranking": [("ease", None, None), ("pop", None, None), ("fm", None, None)]},
    "competition": {
        "ease": [1000, 2000, 4000, 6807],
        "ranking": [("ease", 1000, 10000), ("ease", 4000, 10000), ("ease", None, 10000), ("ease", None, None),
                    ("pop", None, None), ("fm", None, 3000)],
    },
    "ml20m": {
        "ease": [4000, 8000, 12000],
        "ranking": [("ease", 20000, 20000), ("pop", None, None)],
    },
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_data(preset: str, work: Path, seed: int) -> Path:
    folder = work / f"{preset}-s{seed}"
    if not (folder / "train_ratings.csv").is_file():
        log(f"synthesizing {preset} -> {folder}")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "movierec.cli", "data", "synth", "--preset", preset,
                        "--out", str(folder), "--seed", str(seed), "--overwrite"], check=True)
        log(f"synthesized in {time.perf_counter() - started:.1f}s")
    return folder


def task(*arguments: str, timeout: float = 3600) -> list[dict]:
    """Run benchmarks/tasks.py in a fresh process; its last stdout line is the JSON rows."""
    command = [sys.executable, str(HERE / "tasks.py"), *arguments]
    log(" ".join(command[1:]))
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        log(f"failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
        return [{"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed",
                 "args": list(arguments)}]
    return json.loads(done.stdout.strip().splitlines()[-1])


def timed_command(command: list[str], timeout: float) -> dict:
    """Wall time and peak RSS of a command, through GNU time -v."""
    wrapped = ["/usr/bin/time", "-v", *command]
    log(" ".join(command))
    started = time.perf_counter()
    done = subprocess.run(wrapped, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - started
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    cpu = [re.search(rf"{name} time \(seconds\): ([\d.]+)", done.stderr) for name in ("User", "System")]
    return {"command": " ".join(command), "returncode": done.returncode, "wall_s": wall,
            "peak_rss_mb": int(peak.group(1)) / 1024 if peak else None,
            # CPU seconds show how much of the wall time the shared machine actually gave
            "cpu_s": sum(float(m.group(1)) for m in cpu) if all(cpu) else None,
            "tail": done.stdout.strip().splitlines()[-3:] if done.returncode == 0 else done.stderr.strip().splitlines()[-5:]}


def run_e2e(data: Path, preset: str, config: Path | None, label: str, timeout: float, work: Path) -> dict:
    out = work / "runs" / f"{preset}-{label}"
    command = ["movierec", "run", "--data", str(data), "--models", "pop,ease", "--out", str(out)]
    if config is not None:
        command += ["--config", str(config)]
    row = {"label": label, "config": str(config.relative_to(HERE.parent)) if config else None}
    row |= timed_command(command, timeout)
    metrics = out / "metrics.json"
    if row["returncode"] == 0 and metrics.is_file():
        document = json.loads(metrics.read_text())
        row["models"] = {name: {"seconds": m["seconds"], "params": m["params"], "test_recall@10": m["test"]["recall@10"],
                                "trials": len(m["trials"])} for name, m in document["models"].items()}
        row["split"] = document["split"]
    return row


def write_layouts(data: Path, folder: Path) -> list[Path]:
    """The same interactions in every layout the readers know (ratings only)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    folder.mkdir(parents=True, exist_ok=True)
    table = pacsv.read_csv(data / "train_ratings.csv")
    user, item, stamp = (table[c] for c in ("user", "item", "time"))
    rating = pa.array([4] * len(table), pa.int64())
    paths = []

    def write(path: Path, header: str | None, sep: str, columns) -> None:
        text = pc.binary_join_element_wise(*[pc.cast(c, pa.string()) for c in columns], sep)
        with path.open("wb") as handle:
            if header:
                handle.write((header + "\n").encode())
            handle.write(("\n".join(text.to_pylist()) + "\n").encode())
        paths.append(path if path.name not in {"ratings.csv", "ratings.dat", "u.data"} else path.parent)

    for name, filename, header, sep, columns in (
        ("ml-csv", "ratings.csv", "userId,movieId,rating,timestamp", ",", (user, item, rating, stamp)),
        ("ml-dat", "ratings.dat", None, "::", (user, item, rating, stamp)),
        ("ml-100k", "u.data", None, "\t", (user, item, rating, stamp)),
    ):
        (folder / name).mkdir(exist_ok=True)
        write(folder / name / filename, header, sep, columns)
    write(folder / "synth.inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float", "\t",
          (user, item, rating, stamp))
    write(folder / "plain.csv", "user,item,timestamp", ",", (user, item, stamp))
    return [data, *paths]


def machine() -> dict:
    import numpy as np
    from threadpoolctl import threadpool_info

    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "blas": [f"{i['internal_api']} {i.get('version')} {i.get('architecture')} x{i['num_threads']}"
                     for i in threadpool_info()],
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"), "load_average_at_start": load,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PLANS), default="competition")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("MOVIEREC_BENCH_DIR", "/tmp/movierec-bench")))
    parser.add_argument("--only", default="ease,ranking,sampling,knn,readers,e2e",
                        help=f"comma-separated subset of {TASKS} (fm: run bench_fm.py, the FM engineer's ml-100k bench)")
    parser.add_argument("--ease-sizes", help="override the preset's EASE sizes, e.g. 1000,2000")
    parser.add_argument("--e2e-config", type=Path, action="append", default=[],
                        help="TOML for movierec run (repeatable); none: the default grid")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()

    from report import write_report  # benchmarks/report.py, beside this file

    if args.report_only:
        write_report(RESULTS, HERE / "RESULTS.md")
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{args.preset}.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    results["preset"] = args.preset
    results.pop("machine", None)  # one machine per section now (`machines`): sections run at different times
    only = set(args.only.split(","))

    def runs(name: str) -> bool:
        """Whether task `name` runs now; if so, the machine as it starts (its section's header)."""
        if name in only:
            results.setdefault("machines", {})[name] = machine()
        return name in only
    data = ensure_data(args.preset, args.work, args.seed)
    results["data"] = json.loads((data / "synth.json").read_text())
    plan = PLANS[args.preset]

    def save() -> None:
        path.write_text(json.dumps(results, indent=1, default=str) + "\n")
        write_report(RESULTS, HERE / "RESULTS.md")

    if runs("ease"):
        sizes = args.ease_sizes or ",".join(map(str, plan["ease"]))
        fresh = task("ease", "--data", str(data), "--sizes", sizes, timeout=args.timeout)
        measured = {row.get("n_items") for row in fresh}  # rows of other sizes from earlier runs stay
        kept = [row for row in results.get("ease", []) if row.get("n_items") not in measured]
        results["ease"] = sorted(kept + fresh, key=lambda row: row.get("n_items") or 0)
        save()
    if runs("ranking"):
        rows = []
        for model, items, users in plan["ranking"]:
            extra = (["--items", str(items)] if items else []) + (["--users", str(users)] if users else [])
            rows += task("ranking", "--data", str(data), "--model", model, *extra, timeout=args.timeout)
        results["ranking"] = rows
        save()
    if runs("sampling"):
        results["sampling"] = task("sampling", "--data", str(data), timeout=args.timeout)
        save()
    if runs("knn"):
        results["knn"] = task("knn", "--data", str(data), timeout=args.timeout)
        save()
    if runs("readers"):
        rows = []
        for source in write_layouts(data, args.work / f"{args.preset}-s{args.seed}-layouts"):
            rows += task("reader", "--path", str(source), timeout=args.timeout)
        results["readers"] = rows
        save()
    if (HERE / "bench_fm.py").is_file() and runs("fm"):
        results["fm_bench"] = timed_command([sys.executable, str(HERE / "bench_fm.py")],
                                            args.timeout)
        save()
    if runs("e2e"):
        configs = args.e2e_config or [None]
        rows = [r for r in results.get("e2e", []) if r.get("config") not in {
            str(c.resolve().relative_to(HERE.parent)) if c else None for c in configs}]
        for config in configs:
            label = config.stem if config else "default-grid"
            rows.append(run_e2e(data, args.preset, config.resolve() if config else None, label, args.timeout, args.work))
            results["e2e"] = rows
            save()
    save()
    log(f"wrote {path} and {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
