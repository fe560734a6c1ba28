"""CFM and deep CFM speed: training samples per second and full-ranking users per second.

A training sample is one sampled (user, positive, negative) row of BPR, counted over
a whole epoch including the sampling; the epoch's time is the training loop's own
(`train_result_.history`), without FM pretraining or validation, at each model's
defaults otherwise (CFM: dim 16, 32 channels, depth 4; deep CFM: 16 channels, depth 6,
batch norm, residual links). Ranking scores every item for `--rank-users` users
(ml-100k's 1,682 items are below the reranking threshold: the network runs on every
pair) and takes the top 10 with the training items masked. Writes
benchmarks/results/bench_cfm.json.

Usage::

    MOVIEREC_DATA_DIR=../shared/data python benchmarks/bench_cfm.py [--threads 2] [--epochs 1]
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
from movierec.models.torch import CFM, DeepCFM


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rank-users", type=int, default=200)
    parser.add_argument("--data", default=None, help="a data set folder (default: ml-100k under $MOVIEREC_DATA_DIR)")
    parser.add_argument("--out", default="benchmarks/results/bench_cfm.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    path, X, features = whole_dataset(args.data)
    rows = []
    for model_class in (CFM, DeepCFM):
        model = model_class(epochs=args.epochs, pretrain_fm=False, patience=0, device="cpu")
        model.fit(X, features=features)
        epochs = [record["train_seconds"] for record in model.train_result_.history]
        users = np.arange(min(args.rank_users, X.shape[0]))
        started = time.perf_counter()
        model.recommend(users, 10)
        rank_seconds = time.perf_counter() - started
        rows.append({
            "model": model.name,
            "params": {key: value for key, value in model.get_params().items() if not isinstance(value, dict)},
            "epoch_seconds": [round(seconds, 2) for seconds in epochs],
            "train_samples_per_second": round(X.nnz / float(np.median(epochs))),
            "rank_users": len(users),
            "rank_users_per_second": round(len(users) / rank_seconds, 1),
        })
        print(json.dumps({key: rows[-1][key] for key in ("model", "epoch_seconds", "train_samples_per_second",
                                                         "rank_users_per_second")}), flush=True)
    result = {
        "dataset": f"{path.name}: {X.shape[0]:,} users x {X.shape[1]:,} items, {X.nnz:,} positives",
        "rows": rows, "threads": args.threads, "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }
    atomic_write_bytes(Path(args.out), json.dumps(result, indent=1).encode())


if __name__ == "__main__":
    main()
