"""movierec's FM against RecBole 1.2.1's FM on one fixed split, one after the other on one machine.

Both train to early stopping on the split's validation part and then rank every item
for every test user, as ../shared/anchors.md timed RecBole. Each side is one process
timed from start to exit (reading the data included): RecBole through
`recbole_fm.py` in RecBole's own environment, movierec through `movierec run
--models fm --no-refit`. RecBole pins pandas < 2 and numpy < 2, so it lives in a
virtual environment of its own:

    python3 -m venv /tmp/recbole-env
    /tmp/recbole-env/bin/pip install torch==2.13.0 recbole==1.2.1 "numpy<2" "pandas<2" "setuptools<70"
    MOVIEREC_DATA_DIR=../shared/data python benchmarks/bench_recbole.py --recbole-python /tmp/recbole-env/bin/python

(`setuptools<70`: RecBole imports Ray, which needs `pkg_resources`; RecBole loads its own
checkpoint with `torch.load`, which torch >= 2.6 refuses by default, so the run sets
TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD for RecBole's process.) Writes
benchmarks/results/fm_vs_recbole.json and prints the table of docs/results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from movierec.atomic import atomic_write_bytes
from movierec.data.readers import read_dataset
from movierec.export.recbole import export_recbole
from movierec.split.split import read_split

HERE = Path(__file__).resolve().parent


def timed(command: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> tuple[float, str]:
    """Wall seconds of one process and its standard output."""
    print("$ " + shlex.join(command), flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env, cwd=cwd)
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recbole-python", required=True, help="the interpreter of an environment with RecBole 1.2.1")
    parser.add_argument("--split", default="mixed", choices=("mixed", "random"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--config", action="append", default=[],
                        help="a movierec config to time beside the defaults (repeatable)")
    parser.add_argument("--out", default="benchmarks/results/fm_vs_recbole.json")
    args = parser.parse_args()
    data_dir = Path(os.environ["MOVIEREC_DATA_DIR"]).resolve()
    split_dir = data_dir.parent / "splits" / f"ml100k-{args.split}-s0"
    rows = []
    with tempfile.TemporaryDirectory(prefix="movierec-recbole-") as scratch:
        name = f"ml100k-{args.split}"
        export_recbole(read_split(split_dir), scratch, name, read_dataset(data_dir / "ml-100k"))
        seconds, stdout = timed([args.recbole_python, str(HERE / "recbole_fm.py"), scratch, name,
                                 str(Path(scratch) / "checkpoints"), "--threads", str(args.threads)],
                                env=os.environ | {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"},
                                cwd=scratch)  # RecBole writes its log/ and log_tensorboard/ folders here
        recbole = json.loads(stdout.strip().splitlines()[-1])
        rows.append({"library": "RecBole 1.2.1", "config": "FM, RecBole's defaults", "wall_seconds": round(seconds, 1),
                     "epochs": recbole["epochs"], "valid_recall_plain@10": recbole["valid"]["recall@10"],
                     "test_recall_plain@10": recbole["test"]["recall@10"]})
        for config in [None, *args.config]:
            out = Path(scratch) / f"movierec-{len(rows)}"
            command = [sys.executable, "-m", "movierec.cli", "run", "--split-dir", str(split_dir), "--data", "ml-100k",
                       "--data-dir", str(data_dir), "--no-refit", "--threads", str(args.threads), "--quiet",
                       "--out", str(out)]
            command += ["--config", config] if config else ["--models", "fm"]
            seconds, _ = timed(command)
            fm = json.loads((out / "metrics.json").read_text())["models"]["fm"]
            rows.append({"library": "movierec", "config": config or "FM defaults", "wall_seconds": round(seconds, 1),
                         "model_seconds": fm["seconds"], "epochs": len(fm.get("curve", [])),
                         "valid_recall@10": fm["valid"]["recall@10"], "test_recall@10": fm["test"]["recall@10"],
                         "test_recall_plain@10": fm["test"]["recall_plain@10"]})
    result = {"split": f"ml100k-{args.split}-s0", "threads": args.threads, "cpu": platform.processor() or platform.machine(),
              "cores": os.cpu_count(), "rows": rows}
    atomic_write_bytes(Path(args.out), (json.dumps(result, indent=1) + "\n").encode())
    print(markdown(result))


def markdown(result: dict) -> str:
    """One line per run: wall time, its ratio to RecBole's, epochs and test recall."""
    reference = result["rows"][0]["wall_seconds"]
    lines = ["| library | config | wall s | RecBole / this | epochs | test R@10 (normalised) | test recall (plain) |",
             "|---" * 7 + "|"]
    for row in result["rows"]:
        normalised = f"{row['test_recall@10']:.4f}" if "test_recall@10" in row else "-"
        lines.append(f"| {row['library']} | {row['config']} | {row['wall_seconds']} | {reference / row['wall_seconds']:.1f}x | "
                     f"{row['epochs']} | {normalised} | {row['test_recall_plain@10']:.4f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
