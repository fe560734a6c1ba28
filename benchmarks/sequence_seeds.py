"""SASRec with and without its weight averaging, over several seeds, on ml-100k's temporal protocol.

One network's test figure moves with its training draw, so a setting is compared seed
by seed: for each seed and each `ema_decay`, SASRec at its defaults otherwise is trained
on train with validation (early stopping), tested on each sequence continued through
the validation items (no refit), then refitted on train+valid for the epochs validation
chose and tested again (the refit), as `movierec run` does. Writes
benchmarks/results/sequence_seeds.json and prints a markdown table.

Usage::

    MOVIEREC_DATA_DIR=../shared/data python benchmarks/sequence_seeds.py [--seeds 0,1,2] \
        [--decays 0,0.99] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
from bench_sequence import load

from movierec.atomic import atomic_write_bytes
from movierec.evaluate import evaluate
from movierec.models.registry import create
from movierec.split import EncodedSplit


def one(data: EncodedSplit, seed: int, decay: float) -> dict:
    """Validation, no-refit and refit test Recall@10 of one (seed, decay)."""
    started = time.perf_counter()
    model = create("sasrec", device="cpu", random_state=seed, ema_decay=decay)
    model.fit(data.train, valid=data.valid, timestamps=data.timestamps("train"))
    fit_seconds = time.perf_counter() - started
    continued = model.continued(data.train_valid, data.timestamps("train_valid"))
    no_refit = evaluate(continued.score, data.test, exclude=data.train_valid)["recall@10"]
    refit = create("sasrec", device="cpu", random_state=seed, ema_decay=decay, **model.refit_params())
    refit.fit(data.train_valid, timestamps=data.timestamps("train_valid"))
    result = model.train_result_
    return {"seed": seed, "ema_decay": decay, "valid_recall": round(result.best_recall, 4),
            "best_epoch": result.best_epoch, "epochs_run": len(result.history),
            "test_no_refit": round(no_refit, 4),
            "test_refit": round(evaluate(refit.score, data.test, exclude=data.train_valid)["recall@10"], 4),
            "fit_seconds": round(fit_seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--decays", default="0,0.99")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/sequence_seeds.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load("ml100k", Path(os.environ.get("MOVIEREC_DATA_DIR", "../shared/data")), Path("."))  # its temporal split
    rows = []
    for seed in map(int, args.seeds.split(",")):
        for decay in map(float, args.decays.split(",")):
            rows.append(one(data, seed, decay) | {"threads": args.threads})
            print(json.dumps(rows[-1]), flush=True)
    atomic_write_bytes(Path(args.out), (json.dumps(rows, indent=1) + "\n").encode())
    print("| seed | ema_decay | valid R@10 | test R@10, no refit | test R@10, refit | epochs (best) |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['seed']} | {row['ema_decay']} | {row['valid_recall']:.4f} | {row['test_no_refit']:.4f} | "
              f"{row['test_refit']:.4f} | {row['epochs_run']} ({row['best_epoch']}) |")


if __name__ == "__main__":
    main()
