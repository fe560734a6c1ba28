"""FM speed on ml-100k: training samples per second and full-ranking users per second.

A training sample is one (user, positive, n negatives) row of a BPR step, counted
over whole epochs including negative sampling. Full ranking scores every item for
every user (exact, through the user-side / item-side decomposition) and takes the
top 10 with the training items masked. Writes benchmarks/results/bench_fm.json.

Usage::

    MOVIEREC_DATA_DIR=/work/shared/data python benchmarks/bench_fm.py [--threads 2] [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from movierec.atomic import atomic_write_bytes
from movierec.data.encoded import EncodedFeatures, encode_fields
from movierec.data.idmap import IdMap
from movierec.data.interactions import to_csr
from movierec.data.readers import read_dataset
from movierec.models.torch.fm import FM
from movierec.ranking import recommend_batched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="benchmarks/results/bench_fm.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dataset = read_dataset(Path(os.environ["MOVIEREC_DATA_DIR"]) / "ml-100k")
    frame = dataset.interactions
    idmap = IdMap.from_ids(frame.user, frame.item)
    X = to_csr(frame, idmap)
    features = EncodedFeatures(encode_fields(dataset.item_fields, idmap.items)[0],
                               encode_fields(dataset.user_fields, idmap.users)[0])
    model = FM(epochs=args.epochs, device=args.device)
    started = time.perf_counter()
    model.fit(X, features=features)
    train_seconds = time.perf_counter() - started
    users = np.arange(X.shape[0])
    recommend_batched(model.score, users[:64], 10, exclude=X)  # warm-up
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        recommend_batched(model.score, users, 10, exclude=X)
        timings.append(time.perf_counter() - started)
    result = {
        "dataset": "ml-100k (all 100,000 ratings as positives)",
        "model": model.get_params(),
        "fields": [layout for layout in (*model.module_.users.names, *model.module_.items.names)],
        "train_samples": args.epochs * X.nnz,
        "train_seconds": round(train_seconds, 2),
        "train_samples_per_second": round(args.epochs * X.nnz / train_seconds),
        "rank_users": len(users),
        "rank_seconds_best_of_3": round(min(timings), 4),
        "rank_users_per_second": round(len(users) / min(timings)),
        "threads": args.threads,
        "device": args.device,
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }
    atomic_write_bytes(Path(args.out), json.dumps(result, indent=1).encode())
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
