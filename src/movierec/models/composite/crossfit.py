"""Cross-fitted CatBoost boosters: which users each booster learns from, stops on, never sees.

The training users fall into seeded folds. With labels that are not the pipeline's
validation (the inner hold-out), booster k early-stops on fold k and learns from the
rest, and the boosters' predictions are averaged: every user trains some booster and
no single draw of users decides when to stop. With validation labels (*nested*),
booster k early-stops on fold k+1 and learns from the folds other than k and k+1, so
it never sees fold k, which it alone scores when validation is measured. Repeats draw
the folds again (another seed) and add their boosters: a user's out-of-fold score is
then the mean over the repeats of the booster of the user's fold in each, still never
one that saw the user.

CatBoost: Prokhorenkova et al., "CatBoost: unbiased boosting with categorical
features", NeurIPS 2018; YetiRank: Gulin et al. 2011.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from movierec.exceptions import ConfigError

LOSSES = ("YetiRank", "YetiRankPairwise", "PairLogit", "QueryRMSE", "Logloss", "LambdaMart")


@dataclass(frozen=True)
class BoosterSpec:
    """CatBoost's settings for every booster (booster k is seeded ``random_state + k``)."""

    loss: str
    iterations: int
    learning_rate: float
    depth: int
    early_stopping_rounds: int
    valid_k: int
    thread_count: int
    random_state: int

    def params(self, k: int, *, stopping: bool) -> dict:
        params = {"loss_function": self.loss, "iterations": self.iterations, "learning_rate": self.learning_rate,
                  "depth": self.depth, "thread_count": self.thread_count, "verbose": False,
                  "allow_writing_files": False, "random_seed": self.random_state + k}
        if stopping:
            params |= {"eval_metric": f"NDCG:top={self.valid_k}", "od_type": "Iter",
                       "od_wait": self.early_stopping_rounds, "use_best_model": True}
        return params


@dataclass
class CrossFit:
    """The fitted boosters, repeat after repeat (booster k of repeat r at r x n_folds + k);
    `fold_of_user` (nested only; repeats x users, -1: no fold) says which scores whom."""

    boosters: list
    fold_of_user: np.ndarray | None
    best_iterations: list[int]


def booster_rows(fold: np.ndarray, k: int, n_boosters: int, *, nested: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Row masks `(learns, stops)` of booster k, given each row's fold (-1: no fold).

    Examples
    --------
    >>> fold = np.array([0, 1, 2, 0])
    >>> [mask.tolist() for mask in booster_rows(fold, 0, 3, nested=True)]
    [[False, False, True, False], [False, True, False, False]]
    """
    stops = fold == ((k + 1) % n_boosters if nested else k)
    learns = ~stops & (fold != k) if nested else ~stops
    return learns, stops


def informative(groups: np.ndarray, labels: np.ndarray, loss: str) -> np.ndarray:
    """Rows worth training on: ranking losses learn nothing from a group without a positive."""
    if loss == "Logloss":
        return np.ones(len(groups), dtype=bool)
    _, inverse = np.unique(groups, return_inverse=True)
    positives = np.bincount(inverse, weights=labels.astype(np.float64))
    return positives[inverse] > 0


def user_folds(n_unique: int, n_folds: int, eval_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """The fold of each of `n_unique` users: `n_folds` seeded folds, or with one fold (or
    fewer users than folds) fold 0 for an `eval_fraction` of them (early stopping) and -1."""
    if n_folds > 1 and n_unique >= n_folds:
        return rng.permutation(n_unique) % n_folds
    held = rng.random(n_unique) < eval_fraction if n_unique > 10 else np.zeros(n_unique, dtype=bool)
    return np.where(held, 0, -1)


def cross_fit(inputs: pd.DataFrame, labels: np.ndarray, groups: np.ndarray, users: np.ndarray, n_users: int, *,
              spec: BoosterSpec, n_folds: int, eval_fraction: float, nested: bool,
              cat_features: list[str], repeats: int = 1, group_weights: np.ndarray | None = None) -> CrossFit:
    """Fit the boosters on rows `inputs` (CatBoost's columns), grouped by `groups`, over
    `repeats` draws of the folds (the first seeded by ``spec.random_state``); each row's
    `group_weights` (one value per group) weighs its group in the loss and in early stopping.

    Users (not groups) are held out, so a user's inner repeats never sit on both sides.

    Raises
    ------
    ConfigError
        `nested` with fewer users than `n_folds`.
    """
    from catboost import CatBoost, Pool

    unique = np.unique(users)
    folds = [user_folds(len(unique), n_folds, eval_fraction,
                        np.random.default_rng(spec.random_state if r == 0 else [spec.random_state, r]))
             for r in range(repeats)]
    n_boosters = max(int(folds[0].max(initial=-1)) + 1, 1)
    fold_of_user = None
    if nested:
        if n_boosters != n_folds:
            raise ConfigError(f"rerank needs {n_folds} users to cross-fit validation labels, got {len(unique)}")
        fold_of_user = np.full((repeats, n_users), -1, dtype=np.int64)
        fold_of_user[:, unique] = folds

    def pool(mask: np.ndarray) -> Pool:
        return Pool(inputs[mask], label=labels[mask].astype(np.float64), group_id=groups[mask],
                    group_weight=None if group_weights is None else group_weights[mask], cat_features=cat_features)

    boosters = []
    for r, fold_of_unique in enumerate(folds):
        fold = fold_of_unique[np.searchsorted(unique, users)]
        for k in range(n_boosters):
            learns, stops = booster_rows(fold, k, n_boosters, nested=nested)
            booster = CatBoost(spec.params(r * n_boosters + k, stopping=bool(stops.any())))
            booster.fit(pool(learns), eval_set=pool(stops) if stops.any() else None)
            boosters.append(booster)
    best = [spec.iterations if b.get_best_iteration() is None else int(b.get_best_iteration()) + 1 for b in boosters]
    return CrossFit(boosters, fold_of_user, best)
