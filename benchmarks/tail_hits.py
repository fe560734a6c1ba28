"""Where a run's models hit: the tail of each test sequence against the items dropped at random.

The competition-like split hides, for each user, the last items of the sequence (the
*tail*) and a share of the earlier ones at random. A sequence model is there for the
tail; how much a run can gain from one depends on how much better it finds those
items than the static models do. For each model saved in a run folder, its top 10
(train and validation items masked; sequence models from each sequence continued
through the validation items, as the run tested them) is matched against the test
items, split into each user's `--tail` latest test items (by timestamp, ties in the
order of test.csv) and the others.

Usage::

    python benchmarks/tail_hits.py --run runs/results/composite-sasrec-recvae/mixed-no-refit \
        --split-dir ../shared/splits/ml100k-mixed-s0 --models rerank,ease,recvae,sasrec
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import scipy.sparse as sp
from saved_runs import tested_top

from movierec.data.interactions import to_csr, users_with_items
from movierec.evaluate.evaluator import evaluate_lists
from movierec.models.composite.candidates import label_pairs
from movierec.split import EncodedSplit, read_split


def latest_test_rows(data: EncodedSplit, tail: int) -> pd.DataFrame:
    """Each user's `tail` latest rows of test.csv (by timestamp; ties: the later row)."""
    test = data.split.test.reset_index(drop=True)
    return test.sort_values(["user", "timestamp"], kind="stable").groupby("user", sort=False).tail(tail)


def tied_share(latest: pd.DataFrame, data: EncodedSplit) -> float:
    """Share of the rows `latest` rated in the same second as one of the user's train or validation items."""
    known = pd.concat([data.split.train, data.split.valid])[["user", "timestamp"]].drop_duplicates()
    return float(latest.merge(known, on=["user", "timestamp"], how="left", indicator=True)["_merge"]
                 .eq("both").mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a run folder with models/ (save_models)")
    parser.add_argument("--split-dir", type=Path, required=True, help="the split the run used")
    parser.add_argument("--models", default="ease", help="comma-separated saved models")
    parser.add_argument("--tail", type=int, default=2, help="latest test items per user counted as the tail")
    args = parser.parse_args()
    data = EncodedSplit(read_split(args.split_dir))
    test = data.test
    latest = latest_test_rows(data, args.tail)
    tail = to_csr(latest, data.idmap)
    rest = sp.csr_matrix(test - tail)
    rest.eliminate_zeros()
    users = users_with_items(test)
    print(f"{len(users)} test users, {test.nnz} test items: {tail.nnz} in the tail, {rest.nnz} dropped at random; "
          f"{tied_share(latest, data):.0%} of the tail items share their second with a train or validation item\n")
    print("| model | Recall@10 | tail items hit | random drops hit |")
    print("|---|---|---|---|")
    for name in args.models.split(","):
        top = tested_top(args.run, name, data, users, 10)
        recall = evaluate_lists(top, test, users=users, k=10)["recall@10"]
        on_tail = label_pairs(sp.csr_matrix(tail[users]), top).sum() / tail.nnz
        on_rest = label_pairs(sp.csr_matrix(rest[users]), top).sum() / rest.nnz
        print(f"| {name} | {recall:.4f} | {on_tail:.3f} | {on_rest:.3f} |")


if __name__ == "__main__":
    main()
