"""Lists for many users at once from a trained run (EASE, l2 300), on the competition preset.

A run folder with EASE is made with `movierec run` (the one `bench_serve.py` makes), then,
each in a fresh process so that one does not warm the other:

- ``movierec recommend --users all``: every known user's top 10 into one CSV;
- ``movierec recommend --histories FILE``: the preset's whole interactions file read as
  the histories of as many new users, each scored by fold-in (reading the 5M-row file,
  building the rows, scoring, writing the CSV).

Wall time and peak RSS through GNU time (`run.timed_command`), users/s over the users listed. Writes benchmarks/results/bench_batch.json.

Usage::

    python benchmarks/bench_batch.py [--work /tmp/movierec-bench/batch]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve import make_run  # noqa: E402  (the same EASE run folder)
from run import timed_command  # noqa: E402

from movierec.atomic import atomic_write_bytes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/movierec-bench/batch")
    parser.add_argument("--out", default="benchmarks/results/bench_batch.json")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    run = work / "run-competition"
    if not (run / "models" / "ease.pkl").is_file():
        run = make_run("competition", work, work)
    histories = work / "synth-competition"
    cli = [sys.executable, "-m", "movierec.cli", "recommend", "--run", str(run), "--model", "ease", "--k", "10"]
    rows = []
    for what, extra in (("--users all", ["--users", "all"]),
                        ("--histories (the whole interactions file)", ["--histories", str(histories)])):
        out = work / f"lists-{len(rows)}.csv"
        timing = timed_command([*cli, *extra, "--out", str(out)], timeout=1200)
        if timing["returncode"] != 0:
            raise SystemExit("\n".join(timing["tail"]))
        seconds, peak = timing["wall_s"], timing["peak_rss_mb"]
        users = pd.read_csv(out, usecols=["user"])["user"].nunique()
        rows.append({"command": f"movierec recommend --run RUN --model ease --k 10 {what} --out FILE",
                     "users": users, "seconds": round(seconds, 2), "users_per_s": round(users / seconds),
                     "peak_rss_mb": None if peak is None else round(peak)})
    result = {"data": "competition preset (31,360 users, 6,807 items, 5,154,471 interactions)", "rows": rows,
              "machine": platform.platform(), "python": platform.python_version()}
    atomic_write_bytes(Path(args.out), (json.dumps(result, indent=1) + "\n").encode())
    print("| command | users | seconds | users/s | peak RSS MB |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| `{row['command']}` | {row['users']:,} | {row['seconds']} | {row['users_per_s']:,} | "
              f"{row['peak_rss_mb']} |")


if __name__ == "__main__":
    main()
