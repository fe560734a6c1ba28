"""Reranker and tuned ensemble against the best single model on the fixed ml-100k splits.

For each split, EASE's l2 is picked on valid from its grid (the best single model);
then, in both settings of ../shared/anchors.md:

- no refit: every model trains on train.csv (valid.csv for early stopping / weight
  tuning) and recommends from train; test is scored with train+valid masked.
- refit: the parameters found on valid (EASE's l2, the ensemble's weights, FM's
  epochs) are reused to train on train+valid, which is the history at test time.

Without a refit the reranker learns from its members' candidates labelled with
valid.csv (``rerank.label_source="valid"``, the default), cross-fitted so that each
validation user is scored by a booster that never saw them (``score_out_of_fold``:
what every model's ``valid_recall@10`` and the ensemble's weight search read). The refit
has no validation left and learns on an inner hold-out of train+valid, carved with the
split's own protocol (mixed: last 2 + 10%; random: 12.5% = 10% of the whole, at random),
as does ``rerank.label_source="inner"`` in both settings. Every model is scored as the ensemble (or else the reranker) fitted it, so the ensemble is
compared with exactly its members and each model is fitted once per setting. Timestamps
travel beside X (the optional ``timestamps`` keyword of ``fit``). Writes
benchmarks/results/rerank_ensemble_splits.json and, with ``--importance``, the ml-100k
importance report (docs/issue4-importance.md + .png).

Usage::

    MOVIEREC_DATA_DIR=/work/shared/data python benchmarks/rerank_ensemble_splits.py \
        --splits mixed,random --members ease,pop [--set rerank.loss=Logloss ...] [--importance]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path

import numpy as np

from movierec.atomic import atomic_write_bytes
from movierec.data.readers import read_dataset
from movierec.evaluate import evaluate
from movierec.models.base import RefitAware
from movierec.models.candidates import candidate_recall
from movierec.models.members import fit_model, member_names, parse_member
from movierec.models.registry import MODELS, create
from movierec.prepare import encode_split
from movierec.split.split import read_split

INNER = {"mixed": {"inner_tail": 2, "inner_fraction": 0.1}, "random": {"inner_tail": 0, "inner_fraction": 0.125}}
RERANK = {"n_candidates": 100}  # the rest are the model defaults (lr 0.03, depth 4, no ids, early stopping)


def load(data_dir: Path, split: str):
    prepared = encode_split(read_split(data_dir.parent / "splits" / f"ml100k-{split}-s0"),
                            read_dataset(data_dir / "ml-100k"))
    times = prepared.times(("train",)), prepared.times(("train", "valid"))
    return prepared.train, prepared.valid, prepared.test, prepared.features, times


def best_ease_l2(train, valid) -> float:
    return best_closed_form("ease", train, valid, {"l2": MODELS["ease"].param_grid["l2"]})["l2"]


def best_closed_form(name: str, train, valid, grid: dict | None = None) -> dict:
    """The parameters of a closed-form model (ease, dlae) best on valid, from its grid."""
    grid = grid or MODELS[name].param_grid
    keys = list(grid)
    scores = {}
    for values in itertools.product(*(grid[key] for key in keys)):
        params = dict(zip(keys, values))
        scores[values] = evaluate(create(name, **params).fit(train).score, valid, exclude=train)["recall@10"]
    return dict(zip(keys, max(scores, key=scores.get)))


def guard_summary(choice) -> dict | None:
    """What the ensemble's out-of-sample guard saw: held-out gain, its standard error, the verdict."""
    if choice.held_out_gain is None:
        return None
    return {"held_out_gain": round(choice.held_out_gain, 5), "held_out_se": round(choice.held_out_se, 5),
            "fell_back": choice.fell_back}


def measure(model, test, exclude) -> dict:
    result = evaluate(model.score, test, exclude=exclude)
    return {"recall@10": round(result["recall@10"], 4), "ndcg@10": round(result["ndcg@10"], 4)}


def parse_overrides(pairs: list[str]) -> dict[str, dict]:
    overrides: dict[str, dict] = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        model, param = key.split(".", 1)
        try:
            overrides.setdefault(model, {})[param] = json.loads(value)
        except json.JSONDecodeError:
            overrides.setdefault(model, {})[param] = value
    return overrides


def run_split(data_dir: Path, split: str, members: list[str], rerank_members: list[str], overrides: dict,
              settings: list[str], *, skip_rerank: bool = False) -> list[dict]:
    train, valid, test, features, (times_train, times_all) = load(data_dir, split)
    every = (train + valid).tocsr()
    member_params: dict[str, dict] = {"ease": {"l2": best_ease_l2(train, valid)}}
    if "dlae" in members + rerank_members:
        member_params["dlae"] = best_closed_form("dlae", train, valid)
    models = dict(parse_member(spec) for spec in members + rerank_members if spec != "rerank")  # alias -> model
    for alias, model in models.items():  # an alias of ease ("recent=ease") starts from ease's tuned l2
        member_params[alias] = member_params.get(alias, member_params.get(model, {})) | overrides.get(alias, {})
    rows: list[dict] = []

    def record(model_name: str, setting: str, model, seconds: float | None, **extra) -> None:
        held_out = None if setting == "refit" else \
            round(evaluate(model.score_out_of_fold, valid, exclude=train)["recall@10"], 4)
        row = {"model": model_name, "split": split, "setting": setting} | measure(model, test, every) \
            | {"valid_recall@10": held_out, "fit_seconds": None if seconds is None else round(seconds, 1)} | extra
        rows.append(row)
        print(json.dumps(row, default=str), flush=True)

    refit_found: dict[str, dict] = {}  # what the no-refit fits found (epochs), for the refit
    for setting in settings:
        refit = setting == "refit"
        history, history_times = (every, times_all) if refit else (train, times_train)
        fit_kwargs = {"features": features, "valid": None if refit else valid, "timestamps": history_times}
        rerank_params = RERANK | INNER[split] | {"members": tuple(rerank_members), "member_params": {
            name: member_params[name] for name in member_names(tuple(rerank_members))}} | overrides.get("rerank", {})
        started = time.perf_counter()
        if not refit:
            blend_params = member_params | ({"rerank": rerank_params} if "rerank" in members else {})
            ensemble = create("ensemble", members=tuple(members), member_params=blend_params,
                              **overrides.get("ensemble", {})).fit(train, **fit_kwargs)
            tuned = ensemble
        else:
            ensemble = tuned.with_params(**tuned.refit_params()).fit(every, **fit_kwargs)
        ensemble_seconds = time.perf_counter() - started
        # every model is scored as the ensemble (or else the reranker) holds it: one fit,
        # so "the ensemble against its best member" compares with exactly that member
        holders = [ensemble]
        if not skip_rerank:
            reranker, rerank_seconds = ensemble.members_.get("rerank"), None
            if reranker is None:  # fitted the way the ensemble would, on its members
                started = time.perf_counter()
                params = rerank_params | refit_found.get("rerank", {}) if refit else rerank_params
                reranker = create("rerank", **params).fit(history, fitted_members=ensemble.members_, **fit_kwargs)
                rerank_seconds = time.perf_counter() - started
            holders.append(reranker)
            if not refit:
                refit_found["rerank"] = reranker.refit_params()
        for name, registered in models.items():
            holder = next((h for h in holders if name in h.members_), None)
            if holder is not None:
                model, params, seconds = holder.members_[name], holder.member_params[name], None
            else:
                params = member_params[name] | (refit_found.get(name, {}) if refit else {})
                started = time.perf_counter()
                model = fit_model(create(registered, **params), history, **fit_kwargs)
                seconds = time.perf_counter() - started
            if not refit and isinstance(model, RefitAware):
                refit_found[name] = model.refit_params()
            record(name, setting, model, seconds, params=params, held_by=holder and holder.name,
                   found_on_valid=None if refit else refit_found.get(name))
        record("ensemble", setting, ensemble, ensemble_seconds, method=ensemble.choice_.method,
               weights={k: round(v, 4) for k, v in ensemble.weights_.items()},
               valid_recall=None if refit else round(tuned.choice_.recall, 4),
               guard=None if refit else guard_summary(tuned.choice_))
        if skip_rerank:
            continue
        users = np.flatnonzero(np.diff(test.indptr) > 0)
        importances = reranker.feature_importances().head(8).round(2).to_dict()
        record("rerank", setting, reranker, rerank_seconds, held_by="ensemble" if "rerank" in ensemble.members_ else None,
               candidate_recall=round(candidate_recall(reranker.candidates(users), test, users), 4),
               labelled_by=reranker.labelled_by_,
               training_candidate_recall=round(reranker.training_candidate_recall_, 4),
               best_iteration=reranker.best_iteration_, top_importances=importances)
    return rows


def importance(data_dir: Path, out_md: Path, out_png: Path, overrides: dict) -> None:
    from movierec.analysis.importance_report import importance_report

    train, valid, test, features, (times_train, _) = load(data_dir, "mixed")
    params = RERANK | INNER["mixed"] | {"use_ids": True, "member_params": {"ease": {"l2": best_ease_l2(train, valid)}}} \
        | overrides.get("rerank", {})
    report = importance_report(
        train, features, timestamps=times_train, valid=valid, reranker_params=params, oversample=4,
        scorer=lambda model: round(evaluate(model.score, test, exclude=train + valid)["recall@10"], 4),
    )
    report.write(out_md, out_png, title="ml-100k (mixed split, no refit): feature importance and imbalance")
    print(f"wrote {out_md} and {out_png}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", default="mixed,random")
    parser.add_argument("--settings", default="norefit,refit")
    parser.add_argument("--members", default="ease,pop", help="ensemble members (registered names)")
    parser.add_argument("--rerank-members", default="ease", help="reranker members; the first gives candidates")
    parser.add_argument("--set", nargs="*", default=[], help="model.param=json overrides, e.g. rerank.loss=\"Logloss\"")
    parser.add_argument("--out", default="benchmarks/results/rerank_ensemble_splits.json")
    parser.add_argument("--importance", action="store_true", help="also write the importance report")
    parser.add_argument("--importance-only", action="store_true", help="only write the importance report")
    parser.add_argument("--skip-rerank", action="store_true", help="members and ensemble only")
    args = parser.parse_args()
    if args.settings.split(",")[0] != "norefit":
        parser.error("--settings must start with norefit: the refit reuses what validation found")
    data_dir = Path(os.environ["MOVIEREC_DATA_DIR"])
    overrides = parse_overrides(args.set)
    rows = []
    for split in args.splits.split(",") if not args.importance_only else []:
        rows += run_split(data_dir, split, args.members.split(","), args.rerank_members.split(","), overrides,
                          args.settings.split(","), skip_rerank=args.skip_rerank)
    if rows:
        atomic_write_bytes(Path(args.out), json.dumps(rows, indent=1, default=str).encode())
    if args.importance or args.importance_only:
        importance(data_dir, Path("docs/issue4-importance.md"), Path("docs/issue4-importance.png"), overrides)


if __name__ == "__main__":
    main()
