"""The tables of docs/results.md: `movierec run` on the fixed ml-100k splits, collected.

Nothing here trains a model: each table is a list of `movierec run` commands (printed
as they start, the same ones docs/results.md shows), and this script gathers their
`metrics.json` into one results file per table.

Usage::

    MOVIEREC_DATA_DIR=../shared/data python benchmarks/fixed_splits.py --table composite
    python benchmarks/fixed_splits.py --table ease          # pop and EASE, the anchors' figures
    python benchmarks/fixed_splits.py --table protocols     # EASE against popularity per protocol
    python benchmarks/fixed_splits.py --table cfm           # CFM and deep CFM, no refit

Writes ``benchmarks/results/<table>.json`` (per run: command, seconds, every model's
chosen parameters, validation and test metrics) and prints the table as markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from movierec.atomic import atomic_write_bytes

SPLITS = ("mixed", "random")
SETTINGS = ("no-refit", "refit")


def runs(table: str, shared: Path) -> list[tuple[str, list[str]]]:
    """(label, `movierec run` arguments) of every run of a table."""
    out = []
    if table in ("composite", "ease"):
        for split in SPLITS:
            for setting in SETTINGS:
                args = ["--split-dir", str(shared / "splits" / f"ml100k-{split}-s0")]
                if table == "composite":
                    args = ["--config", f"benchmarks/configs/ml100k-{split}.toml", *args]
                else:
                    args += ["--models", "pop,ease"]
                out.append((f"{split} {setting}", args + (["--no-refit"] if setting == "no-refit" else [])))
    elif table == "cfm":
        for split in SPLITS:
            out.append((f"{split} no-refit", ["--config", "benchmarks/configs/ml100k-cfm.toml", "--split-dir",
                                              str(shared / "splits" / f"ml100k-{split}-s0"), "--no-refit"]))
    elif table == "protocols":
        for protocol in ("competition", "random", "temporal"):
            for setting in SETTINGS:
                args = ["--data", "ml-100k", "--protocol", protocol, "--models", "pop,ease"]
                out.append((f"{protocol} {setting}", args + (["--no-refit"] if setting == "no-refit" else [])))
    else:
        raise SystemExit(f"unknown table {table!r}; expected composite, ease, cfm or protocols")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, help="composite, ease, cfm or protocols")
    parser.add_argument("--only", default=None, help="run only the labels containing this text, e.g. 'mixed no-refit'")
    parser.add_argument("--runs-dir", default="runs/results")
    args = parser.parse_args()
    shared = Path(os.environ.get("MOVIEREC_DATA_DIR", "../shared/data")).resolve().parent
    results_path = Path("benchmarks/results") / f"{args.table}.json"
    rows = json.loads(results_path.read_text()) if results_path.exists() else []
    for label, run_args in runs(args.table, shared):
        if args.only and args.only not in label:
            continue
        out = Path(args.runs_dir) / args.table / label.replace(" ", "-")
        command = [sys.executable, "-m", "movierec.cli", "run", *run_args, "--out", str(out)]
        print("$ movierec run " + shlex.join([*run_args, "--out", str(out)]), flush=True)
        started = time.perf_counter()
        subprocess.run(command, check=True)
        metrics = json.loads((out / "metrics.json").read_text())
        row = {"run": label, "command": "movierec run " + shlex.join(run_args), "seconds": round(time.perf_counter() - started),
               "models": {name: {"params": m["params"], "valid": m["valid"], "test": m["test"]}
                          for name, m in metrics["models"].items()}}
        rows = [r for r in rows if r["run"] != label] + [row]
        atomic_write_bytes(results_path, (json.dumps(rows, indent=1) + "\n").encode())
    print(markdown(rows))


def markdown(rows: list[dict]) -> str:
    """Test Recall@10 (NDCG@10) of every model, one column per run."""
    models = list(dict.fromkeys(name for row in rows for name in row["models"]))
    lines = ["| model | " + " | ".join(row["run"] for row in rows) + " |", "|---" * (len(rows) + 1) + "|"]
    for name in models:
        cells = [f"{row['models'][name]['test']['recall@10']:.4f} ({row['models'][name]['test']['ndcg@10']:.4f})"
                 if name in row["models"] else "-" for row in rows]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
