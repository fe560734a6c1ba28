"""The reranker of a run trained again with other settings over the run's saved members.

A composite run spends most of its time training the members; the reranker's own
settings (CatBoost's depth, learning rate, folds, loss, oversampling) change only the
boosters. This script loads the reranker a run saved, takes its members as they were
fitted on train (sequence members back on the train sequences), and for each variant
fits a reranker with the run's parameters updated by the variant, reusing those
members (the fingerprints must match: the same split, data set and side fields), then
prints its out-of-fold validation Recall@10 (what a run would choose on) and its test
Recall@10 without refit (each sequence continued through the validation items).

Usage::

    python benchmarks/rerank_variants.py --run runs/results/composite-sasrec-recvae/mixed-no-refit \
        --split-dir ../shared/splits/ml100k-mixed-s0 --data ml-100k \
        --variants '[{}, {"depth": 6}, {"n_folds": 10}]'
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from movierec.evaluate.evaluator import evaluate
from movierec.models.base import ContinuesSequences, Recommender, validation_scorer
from movierec.models.composite.reranker import Reranker
from movierec.split import SplitSpec, load_encoded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a run folder whose models/ holds rerank.pkl")
    parser.add_argument("--split-dir", type=Path, required=True, help="the split the run used")
    parser.add_argument("--data", help="the data set the run read its side fields from (its [run] data)")
    parser.add_argument("--data-dir", type=Path, default=None, help="where --data lives (MOVIEREC_DATA_DIR)")
    parser.add_argument("--variants", default="[{}]", help="JSON list of parameter updates; {} is the run's own")
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    data = load_encoded(data=args.data, data_dir=args.data_dir, split_dir=args.split_dir,
                        spec=SplitSpec())
    saved = Recommender.load(args.run / "models" / "rerank.pkl")
    members = {alias: member.continued(data.train, data.timestamps("train"))
               if isinstance(member, ContinuesSequences) and member.X_.nnz > data.train.nnz else member
               for alias, member in saved.members_.items()}
    print("| variant | valid R@10 (out of fold) | test R@10 | test NDCG@10 | boosters' best iterations | seconds |")
    print("|---|---|---|---|---|---|")
    for variant in json.loads(args.variants):
        started = time.perf_counter()
        model = Reranker(**(saved.get_params() | variant))
        model.offer_fits(members)
        model.fit(data.train, features=data.features("train"), valid=data.valid, timestamps=data.timestamps("train"))
        seconds = time.perf_counter() - started
        valid = evaluate(validation_scorer(model), data.valid, exclude=data.train, k=args.k, owned=True)
        continued = model.continued(data.train_valid, data.timestamps("train_valid"))
        test = evaluate(continued.scorer(), data.test, exclude=data.train_valid, k=args.k, owned=True)
        print(f"| {json.dumps(variant)} | {valid[f'recall@{args.k}']:.4f} | {test[f'recall@{args.k}']:.4f} | "
              f"{test[f'ndcg@{args.k}']:.4f} | {model.best_iterations_} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
