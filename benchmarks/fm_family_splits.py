"""FM, CFM and deep CFM next to popularity and EASE on the fixed ml-100k splits (no refit).

Trains each model on train.csv with valid.csv for early stopping, then scores test
with train+valid masked (RecBole's setting, see ../shared/anchors.md). Writes
benchmarks/results/fm_family_splits.json.

Usage::

    MOVIEREC_DATA_DIR=/work/shared/data OMP_NUM_THREADS=2 python benchmarks/fm_family_splits.py \
        --models pop,ease,fm,cfm,deepcfm --splits mixed,random [--set fm.dim=128 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pandas as pd

from movierec.atomic import atomic_write_bytes
from movierec.data.encoded import EncodedFeatures, encode_fields
from movierec.data.idmap import IdMap
from movierec.data.interactions import to_csr
from movierec.data.readers import read_dataset
from movierec.evaluate import evaluate
from movierec.models.registry import create
from movierec.split.split import read_split

DEFAULTS = {"ease": {"l2": 300.0}}


def load(data_dir: Path, split: str):
    """(train, valid, test) matrices and encoded features of one fixed split."""
    parts = read_split(data_dir.parent / "splits" / f"ml100k-{split}-s0")
    frame = pd.concat([parts.train, parts.valid, parts.test])
    idmap = IdMap.from_ids(frame.user, frame.item)
    matrices = [to_csr(part, idmap) for part in (parts.train, parts.valid, parts.test)]
    dataset = read_dataset(data_dir / "ml-100k")
    item_fields, _ = encode_fields(dataset.item_fields, idmap.items)
    user_fields, _ = encode_fields(dataset.user_fields, idmap.users)
    return (*matrices, EncodedFeatures(item_fields, user_fields))


def parse_overrides(pairs: list[str]) -> dict[str, dict]:
    overrides: dict[str, dict] = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        model, param = key.split(".", 1)
        overrides.setdefault(model, {})[param] = json.loads(value) if value[:1] in "0123456789-[{tf" else value
    return overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="pop,ease,fm,cfm,deepcfm")
    parser.add_argument("--splits", default="mixed,random")
    parser.add_argument("--set", nargs="*", default=[], help="model.param=value overrides")
    parser.add_argument("--out", default="benchmarks/results/fm_family_splits.json")
    args = parser.parse_args()
    data_dir = Path(os.environ["MOVIEREC_DATA_DIR"])
    overrides = parse_overrides(args.set)
    rows = []
    for split in args.splits.split(","):
        train, valid, test, features = load(data_dir, split)
        for name in args.models.split(","):
            params = DEFAULTS.get(name, {}) | overrides.get(name, {})
            model = create(name, **params)
            started = time.perf_counter()
            model.fit(train, features=features, valid=valid)
            fitted = time.perf_counter() - started
            started = time.perf_counter()
            result = evaluate(model.score, test, exclude=train + valid)
            row = {"model": name, "split": split, "params": params,
                   "recall@10": round(result["recall@10"], 4), "ndcg@10": round(result["ndcg@10"], 4),
                   "train_seconds": round(fitted, 1), "score_seconds": round(time.perf_counter() - started, 1)}
            if hasattr(model, "train_result_"):
                row["best_epoch"] = model.train_result_.best_epoch
                row["best_valid_recall"] = model.train_result_.best_recall
            rows.append(row)
            print(json.dumps(row), flush=True)
    atomic_write_bytes(Path(args.out), json.dumps(rows, indent=1).encode())


if __name__ == "__main__":
    main()
