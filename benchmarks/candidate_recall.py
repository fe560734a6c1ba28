"""Candidate recall of a run's saved models: the share of test items in each model's top n.

A reranker reorders its first member's top `n_candidates` unseen items, so the share of
the hidden test items found there caps what it can reach. For each model saved in a
run folder and each n, the top n items of every test user (the train and validation
items masked) are matched against the split's test items. Models are scored as the run
tested them: from the history they were fitted on, sequence models from each sequence
continued through the validation items when they were fitted on train alone.

Usage::

    python benchmarks/candidate_recall.py --run runs/results/composite-sasrec-recvae/mixed-no-refit \
        --split-dir ../shared/splits/ml100k-mixed-s0 --models ease,recvae,sasrec --sizes 50,100,200
"""

from __future__ import annotations

import argparse
from pathlib import Path

from saved_runs import tested_top

from movierec.data.interactions import users_with_items
from movierec.models.composite.candidates import candidate_recall
from movierec.split import EncodedSplit, read_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a run folder with models/ (save_models)")
    parser.add_argument("--split-dir", type=Path, required=True, help="the split the run used")
    parser.add_argument("--models", default="ease", help="comma-separated saved models")
    parser.add_argument("--sizes", default="50,100,200", help="candidate list lengths")
    args = parser.parse_args()
    data = EncodedSplit(read_split(args.split_dir))
    test = data.test
    users = users_with_items(test)
    sizes = [int(size) for size in args.sizes.split(",")]
    print("| model | " + " | ".join(f"top {size}" for size in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for name in args.models.split(","):
        top = tested_top(args.run, name, data, users, max(sizes))
        recalls = [candidate_recall(top[:, :size], test, users) for size in sizes]
        print(f"| {name} | " + " | ".join(f"{recall:.4f}" for recall in recalls) + " |")


if __name__ == "__main__":
    main()
