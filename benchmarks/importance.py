"""The feature-importance and imbalance report on the fixed ml-100k mixed split (no refit).

Fits the reranker (EASE candidates, ids as features so their importance shows) and a
pointwise CatBoost classifier, each plain and with positives repeated four times, and
writes docs/importance.md and docs/importance.png (:mod:`movierec.analysis.importance_report`).

Usage::

    MOVIEREC_DATA_DIR=../shared/data python benchmarks/importance.py
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from movierec.analysis.importance_report import importance_report
from movierec.data.readers import read_dataset
from movierec.evaluate import evaluate
from movierec.split import EncodedSplit, read_split

# the reranker of the mixed split's composite run (benchmarks/configs/ml100k-mixed.toml)
# with EASE alone as member, and the ids given to CatBoost
RERANKER = {"n_candidates": 100, "inner_tail": 2, "inner_fraction": 0.1, "use_ids": True,
            "member_params": {"ease": {"l2": 300.0}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/importance.md")
    args = parser.parse_args()
    data_dir = Path(os.environ.get("MOVIEREC_DATA_DIR", "../shared/data"))
    data = EncodedSplit(read_split(data_dir.parent / "splits" / "ml100k-mixed-s0"), read_dataset(data_dir / "ml-100k"))
    report = importance_report(
        data.train, data.features("train"), timestamps=data.timestamps("train"), valid=data.valid,
        reranker_params=RERANKER, oversample=4,
        scorer=lambda model: round(evaluate(model.score, data.test, exclude=data.train_valid)["recall@10"], 4),
    )
    out = Path(args.out)
    written = report.write(out, out.with_suffix(".png"),
                           title="ml-100k (mixed split, no refit): feature importance and imbalance")
    print("wrote", *written)


if __name__ == "__main__":
    main()
