"""FM speed: training samples per second, for each way of training, and full-ranking users per second.

A training sample is one (user, positive, n negatives) row of the sampled pairs,
counted over whole epochs including negative sampling; training against the whole
catalogue (`training = "catalogue"`) computes the same rows' loss in expectation, so
its rate counts the positives it covers the same way. Full ranking scores every item
for every user (exact, through the user-side / item-side decomposition) and takes the
top 10 with the training items masked. ml-100k by default; `--data DIR` times any data
set `read_dataset` reads (the competition preset of `movierec data synth`). Writes
benchmarks/results/bench_fm.json.

Usage::

    MOVIEREC_DATA_DIR=../shared/data python benchmarks/bench_fm.py [--threads 2] [--epochs 3] \
        [--data /tmp/movierec-bench/competition-s0]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from bench_data import whole_dataset

from movierec.atomic import atomic_write_bytes
from movierec.models.torch.fm import FM
from movierec.ranking import recommend_batched

TRAININGS = {  # FM's defaults, and benchmarks/configs/ml100k-fm-catalogue.toml's settings
    "pairs": {},
    "catalogue": {"training": "catalogue", "batch_size": 256, "lr": 0.01},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", default=None, help="a data set folder (default: ml-100k under $MOVIEREC_DATA_DIR)")
    parser.add_argument("--trainings", default="pairs,catalogue")
    parser.add_argument("--out", default="benchmarks/results/bench_fm.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    path, X, features = whole_dataset(args.data)
    rows = []
    for training in args.trainings.split(","):
        model = FM(epochs=args.epochs, device=args.device, **TRAININGS[training])
        started = time.perf_counter()
        model.fit(X, features=features)
        train_seconds = time.perf_counter() - started
        users = np.arange(X.shape[0])
        recommend_batched(model.score, users[:64], 10, exclude=X)  # warm-up
        started = time.perf_counter()
        recommend_batched(model.score, users, 10, exclude=X)
        rank_seconds = time.perf_counter() - started
        rows.append({
            "training": training,
            "model": model.get_params(),
            "train_samples": args.epochs * X.nnz,
            "train_seconds": round(train_seconds, 2),
            "train_samples_per_second": round(args.epochs * X.nnz / train_seconds),
            "epoch_seconds": [round(record["train_seconds"], 3) for record in model.train_result_.history],
            "rank_users": len(users),
            "rank_seconds": round(rank_seconds, 4),
            "rank_users_per_second": round(len(users) / rank_seconds),
        })
        print(json.dumps(rows[-1] | {"model": None}), flush=True)
    result = {
        "dataset": f"{path.name}: {X.shape[0]:,} users x {X.shape[1]:,} items, {X.nnz:,} positives (every interaction)",
        "fields": [layout for layout in (*model.module_.users.names, *model.module_.items.names)],
        "rows": rows,
        "threads": args.threads,
        "device": args.device,
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }
    atomic_write_bytes(Path(args.out), json.dumps(result, indent=1).encode())
    print(markdown(result))


def markdown(result: dict) -> str:
    """One line per way of training: samples/s, seconds per epoch, ranking users/s."""
    lines = [f"{result['dataset']}, {result['threads']} threads", "",
             "| training | samples/s | seconds per epoch | ranking users/s |", "|---|---|---|---|"]
    for row in result["rows"]:
        epochs = row["epoch_seconds"]
        lines.append(f"| {row['training']} | {row['train_samples_per_second']:,} | {np.median(epochs):.2f} | "
                     f"{row['rank_users_per_second']:,} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
