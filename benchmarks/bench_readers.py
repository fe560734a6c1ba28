"""Reading speed and peak memory of `read_dataset` on large synthetic data sets.

Writes a synthetic data set in the competition layout (`movierec.data.synth`, the
same generator as ``movierec data synth``) into a temporary folder, then reads it
with `read_dataset` in a fresh process per repeat, so the peak RSS is the reader's
alone; beside it, in the same run, pandas' pyarrow engine reading the same files
(`pd.read_csv(engine="pyarrow")` on the interactions, the side tables as they are: no
checks, no id encoding), the yardstick issue 23 names. Writes
benchmarks/results/bench_readers.json.

Usage::

    python benchmarks/bench_readers.py [--preset competition] [--repeats 2]

Measured on 2 shared CPU cores (load 5-7 from other jobs), 2026-11-27:
competition preset (5.15M rows) 17.2 s with the first readers -> 4.5 s;
ml20m preset (20.0M rows) 70.4 s / 4.67 GB peak -> 25.3 s / 2.76 GB.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from movierec.atomic import atomic_write_bytes
from movierec.data.synth import synthesize

CHILD = """
import json, resource, sys, time
from movierec.data.readers import read_dataset
started = time.perf_counter()
dataset = read_dataset(sys.argv[1])
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rows": len(dataset.interactions),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

PANDAS = """
import json, resource, sys, time
from pathlib import Path
import pandas as pd
started = time.perf_counter()
folder = Path(sys.argv[1])
rows = len(pd.read_csv(folder / "train_ratings.csv", engine="pyarrow"))
for side in sorted(folder.glob("*.tsv")):
    pd.read_csv(side, sep="\\t", engine="pyarrow")
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rows": rows,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(script: str, folder: Path, repeats: int) -> list[dict]:
    """`repeats` fresh processes running `script` on `folder`; what each printed."""
    runs = []
    for _ in range(repeats):
        output = subprocess.run([sys.executable, "-c", script, str(folder)], check=True,
                                capture_output=True, text=True).stdout
        runs.append(json.loads(output.strip().splitlines()[-1]))
        print(runs[-1])
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="competition")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/bench_readers.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-readers-") as scratch:
        folder = Path(scratch) / args.preset
        made = synthesize(args.preset, folder, seed=0)
        runs = measure(CHILD, folder, args.repeats)
        pandas_runs = measure(PANDAS, folder, args.repeats)
    result = {
        "preset": args.preset,
        "rows_written": made.n_interactions,
        "runs": runs,
        "best_seconds": min(run["seconds"] for run in runs),
        "pandas_pyarrow_runs": pandas_runs,
        "pandas_pyarrow_best_seconds": min(run["seconds"] for run in pandas_runs),
        "machine": platform.platform(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    atomic_write_bytes(Path(args.out), (json.dumps(result, indent=2) + "\n").encode())
    print(f"best {result['best_seconds']:.1f} s (pandas' pyarrow engine {result['pandas_pyarrow_best_seconds']:.1f} s) "
          f"for {made.n_interactions} rows -> {args.out}")


if __name__ == "__main__":
    main()
