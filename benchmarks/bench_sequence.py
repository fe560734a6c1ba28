"""Training and full-ranking speed of the sequence models (SASRec, BERT4Rec) on the CPU.

For each data set (ml-100k's temporal split train part; the synthetic competition
preset), trains each model at its defaults for `--epochs` epochs without validation
(seconds per epoch), then ranks every item for every user (users per second). On the
data sets in `--to-stop` it also trains at the defaults as `movierec run` does: with
validation every epoch, to early stopping (the whole training time, the issue's "within
3 minutes" for ml-100k). Writes benchmarks/results/bench_sequence.json.

Usage::

    MOVIEREC_DATA_DIR=../shared/data python benchmarks/bench_sequence.py [--datasets ml100k,competition] \
        [--models sasrec,bert4rec,sasrec:loss=gbce] [--threads 2] [--epochs 2] [--to-stop ml100k]

A model is a name, or ``name:param=value,...`` for other settings than its defaults
(``sasrec:loss=gbce``: sampled negatives instead of the softmax over every item).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from movierec.atomic import atomic_write_bytes
from movierec.data.readers import read_dataset
from movierec.models.registry import create
from movierec.ranking import recommend_batched
from movierec.split import EncodedSplit, SplitSpec, make_split


def load(name: str, data_dir: Path, work: Path) -> EncodedSplit:
    if name == "ml100k":
        dataset = read_dataset(data_dir / "ml-100k")
    else:
        folder = work / "synth-competition"
        subprocess.run([sys.executable, "-m", "movierec.cli", "data", "synth", "--preset", "competition",
                        "--out", str(folder)], check=True, stdout=subprocess.DEVNULL)
        dataset = read_dataset(folder)
    return EncodedSplit(make_split(dataset.interactions, SplitSpec("temporal", tail=2)), dataset)


def model_spec(spec: str) -> tuple[str, dict]:
    """``"sasrec:loss=gbce,dim=32"`` -> ``("sasrec", {"loss": "gbce", "dim": 32})`` (JSON values, else text)."""
    name, _, settings = spec.partition(":")
    params = {}
    for setting in filter(None, settings.split(",")):
        key, _, value = setting.partition("=")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return name, params


def to_early_stop(model_name: str, params: dict, data: EncodedSplit) -> dict:
    """Train with validation each epoch, as `movierec run` does, to the stop."""
    model = create(model_name, device="cpu", **params)
    started = time.perf_counter()
    model.fit(data.train, valid=data.valid, timestamps=data.timestamps("train"))
    result = model.train_result_
    return {"to_stop_seconds": round(time.perf_counter() - started, 1), "epochs_run": len(result.history),
            "best_epoch": result.best_epoch, "valid_recall": round(result.best_recall, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="ml100k,competition")
    parser.add_argument("--models", default="sasrec,bert4rec")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--to-stop", default="ml100k", help="data sets also trained to early stopping")
    parser.add_argument("--out", default="benchmarks/results/bench_sequence.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data_dir = Path(os.environ.get("MOVIEREC_DATA_DIR", "../shared/data"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="movierec-seq-") as folder:
        for name in args.datasets.split(","):
            data = load(name, data_dir, Path(folder))
            for spec in args.models.split(","):
                model_name, params = model_spec(spec)
                model = create(model_name, epochs=args.epochs, device="cpu", **params)
                started = time.perf_counter()
                model.fit(data.train, timestamps=data.timestamps("train"))
                train_seconds = time.perf_counter() - started
                users = np.arange(data.train.shape[0])
                started = time.perf_counter()
                recommend_batched(model.score, users, 10, exclude=data.train)
                rank_seconds = time.perf_counter() - started
                row = {"dataset": name, "model": spec, "users": int(data.train.shape[0]),
                       "items": int(data.train.shape[1]), "interactions": int(data.train.nnz),
                       "epochs": args.epochs, "seconds_per_epoch": round(train_seconds / args.epochs, 1),
                       "ranking_users_per_s": round(len(users) / rank_seconds), "threads": args.threads,
                       "load_average": list(os.getloadavg())}
                if name in args.to_stop.split(","):
                    row |= to_early_stop(model_name, params, data)
                rows.append(row)
                print(json.dumps(row), flush=True)
    out = Path(args.out)  # rows of the (data set, model) pairs not run now are kept
    fresh = {(row["dataset"], row["model"]) for row in rows}
    kept = [row for row in (json.loads(out.read_text()) if out.is_file() else [])
            if (row["dataset"], row["model"]) not in fresh]
    atomic_write_bytes(out, (json.dumps(kept + rows, indent=1) + "\n").encode())


if __name__ == "__main__":
    main()
