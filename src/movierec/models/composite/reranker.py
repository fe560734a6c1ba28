"""Two-stage recommender: candidates from collaborative models, reordered by CatBoost.

The members are fitted on `X` (with `valid` for their own early stopping, as when they
run alone); the first one's top `n_candidates` unseen items per user are the
candidates, and every member's score, rank and z-score are features beside the
history's (:mod:`movierec.models.composite.features`). CatBoost learns which
candidates are hidden positives, from validation labels cross-fitted so that each
validation user is scored by a booster that never saw them, or from an inner
hold-out when no validation is left (:mod:`~movierec.models.composite.rows`,
:mod:`~movierec.models.composite.crossfit`; why this keeps validation honest:
docs/design.md).

Ideas from the winning entries of the competition this library was built for, and
from Burges, "From RankNet to LambdaRank to LambdaMART" (2010) for ranking losses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from movierec.checks import is_whole_number
from movierec.data.encoded import EncodedFeatures
from movierec.data.interactions import users_with_items
from movierec.exceptions import ConfigError, NotFittedError
from movierec.models.composite.base import CompositeModel
from movierec.models.composite.crossfit import LOSSES, BoosterSpec, cross_fit, informative
from movierec.models.composite.features import ITEM_ID, KNN_NEIGHBOURS, USER_ID, categorical_columns
from movierec.models.composite.rows import (
    GROUP,
    CandidateSpec,
    TrainingRows,
    candidate_rows,
    inner_rows,
    stacked,
    validation_rows,
)
from movierec.models.single import SINGLE_MODELS
from movierec.models.space import Choice, FloatRange, IntRange
from movierec.ranking import top_unseen
from movierec.sampling import oversample_positives

LABEL_SOURCES = ("valid", "inner")
GROUP_WEIGHTS = ("equal", "recall")


class Reranker(CompositeModel):
    """CatBoost reranker over the candidates of single models (name ``"rerank"``).

    Parameters
    ----------
    members : model names (a tuple, or a comma-separated string: ``"ease,fm"``); the
        first generates the candidates, every one contributes its score, rank and
        per-user z-score as features. ``alias=model`` adds a model a second time
        (``"ease,recent=ease"``). Members are single models: a composite member's
        scores on validation users would be in-sample features.
    member_params : name (alias) -> hyper-parameters of that member.
    n_candidates : candidates per user (N); their recall caps the reranker's.
    label_source : ``"valid"`` (labels from `valid`, cross-fitted; needs ``n_folds >= 3``;
        falls back to the inner hold-out without `valid`, or when fewer users than
        folds have a validation item among their candidates) or ``"inner"``.
    loss : CatBoost loss, one of ``LOSSES`` (ranking losses group rows by user).
    iterations, learning_rate, depth : CatBoost's; early stopping picks the iteration.
    use_ids : give CatBoost the user and item ids as categorical features (off: the
        user id mostly predicts how many positives a user has, not which).
    positive_oversample : repeat each positive training row this many times.
    group_weight : ``"equal"`` (every user's candidates weigh alike) or ``"recall"`` (a
        user's weight 1 / min(`valid_k`, hidden items), as a hit counts in Recall@k:
        users with few hidden items weigh more).
    inner_tail, inner_fraction : the inner hold-out rule (match the split's protocol:
        2 and 0.1 for the competition-like split, 0 and 0.125 for a random 80/10/10).
    inner_repeats : inner hold-outs drawn (seeds random_state, +1, ...), their rows stacked.
    eval_fraction : with ``n_folds=1`` (inner labels), the share of training users kept
        aside for early stopping (0: none).
    early_stopping_rounds : iterations without a better held-out NDCG@`valid_k` before
        a booster stops (the best iteration is kept).
    n_folds : boosters cross-fitted over that many seeded folds of users, their
        predictions averaged (:mod:`~movierec.models.composite.crossfit`); 1: one
        booster, early-stopped on `eval_fraction` of the users (inner labels only).
    fold_repeats : draws of the folds, each adding `n_folds` boosters to the mean (and,
        with validation labels, to each user's out-of-fold score): less variance from
        which users fell into which fold, for that many times the boosters' time.
    recent_days : window of the "recent popularity" feature (needs timestamps).
    knn_neighbours : neighbours per item in the item-kNN feature (``knn_score``).
    valid_k : list length of the NDCG that early stopping reads (the run's k).
    thread_count : CatBoost threads (None: torch's count, the one a run's ``--threads`` sets).
    random_state : seed of the inner hold-out, the folds (or eval users) and CatBoost.

    Examples
    --------
    >>> X = sp.random(60, 30, density=0.3, format="csr", random_state=0, dtype=np.float32)
    >>> X.data[:] = 1
    >>> model = Reranker(n_candidates=10, iterations=5, thread_count=1).fit(X)
    >>> model.recommend(np.array([0]), k=3)[0].shape
    (1, 3)
    """

    name = "rerank"
    search_space = {"learning_rate": FloatRange(0.01, 0.1, log=True), "depth": IntRange(3, 8),
                    "n_candidates": Choice((50, 100, 200)), "group_weight": Choice(GROUP_WEIGHTS)}
    catalogue = SINGLE_MODELS
    fold_repeats: int = 1  # what a reranker pickled before these parameters existed did
    group_weight: str = "equal"

    def __init__(
        self,
        *,
        members: str | tuple[str, ...] = ("ease",),
        member_params: dict[str, dict[str, Any]] | None = None,
        n_candidates: int = 100,
        label_source: str = "valid",
        loss: str = "YetiRank",
        iterations: int = 600,
        learning_rate: float = 0.03,
        depth: int = 4,
        use_ids: bool = False,
        positive_oversample: int = 1,
        group_weight: str = "equal",
        inner_tail: int = 2,
        inner_fraction: float = 0.1,
        inner_repeats: int = 1,
        eval_fraction: float = 0.2,
        early_stopping_rounds: int = 50,
        n_folds: int = 5,
        fold_repeats: int = 1,
        recent_days: float = 30.0,
        knn_neighbours: int = KNN_NEIGHBOURS,
        valid_k: int = 10,
        thread_count: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.members = members
        self.member_params = member_params
        self.n_candidates = n_candidates
        self.label_source = label_source
        self.loss = loss
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.depth = depth
        self.use_ids = use_ids
        self.positive_oversample = positive_oversample
        self.group_weight = group_weight
        self.inner_tail = inner_tail
        self.inner_fraction = inner_fraction
        self.inner_repeats = inner_repeats
        self.eval_fraction = eval_fraction
        self.early_stopping_rounds = early_stopping_rounds
        self.n_folds = n_folds
        self.fold_repeats = fold_repeats
        self.recent_days = recent_days
        self.knn_neighbours = knn_neighbours
        self.valid_k = valid_k
        self.thread_count = thread_count
        self.random_state = random_state

    # ---- training -----------------------------------------------------------------
    def _fit(self, X: sp.csr_matrix, *, features: EncodedFeatures | None, valid: sp.csr_matrix | None,
             timestamps: sp.csr_matrix | None) -> None:
        """Fit the members on `X`, then learn to reorder their candidates (labels from
        `valid` or an inner hold-out of `X`: `label_source`).

        `timestamps` order the inner hold-out in time and enable the recency features;
        without them the hold-out is random and those features are absent.
        """
        if self.label_source == "valid" and valid is not None and self.n_folds < 3:
            raise ConfigError(f"rerank label_source='valid' scores validation users out of fold and needs "
                              f"n_folds >= 3, got {self.n_folds}; label_source='inner' trains one booster")
        self.members_ = self._fit_members(X, features=features, valid=valid, timestamps=timestamps)
        self.stopped_params_ = self.stopped_member_params()
        self.features_ = features.without_events() if features is not None else None
        self.stats_ = self._spec.stats(X, timestamps, features)
        rows = self._validation_rows(X, valid) if self.label_source == "valid" and valid is not None else None
        nested = rows is not None
        if rows is None:
            rows = stacked([inner_rows(self._spec, self._inner_fit(X, features=features, timestamps=timestamps,
                                                                   seed=self.random_state + repeat), repeat)
                            for repeat in range(self.inner_repeats)])
        self.training_frame_, self.training_labels_ = rows.frame, rows.labels
        self.training_candidate_recall_ = int(rows.labels.sum()) / max(rows.n_hidden, 1)
        self._train(rows, nested=nested)

    def _validation_rows(self, X: sp.csr_matrix, valid: sp.csr_matrix) -> TrainingRows | None:
        """Rows labelled by `valid`, or None when fewer users than folds have a validation
        item among their candidates (too few to cross-fit)."""
        if len(users_with_items(valid)) < self.n_folds:
            return None
        rows = validation_rows(self._spec, self.members_, X, valid, self.stats_, self.features_)
        users = rows.frame[USER_ID].to_numpy()
        if len(np.unique(users[informative(users, rows.labels, self.loss)])) < self.n_folds:
            return None
        return rows

    def _train(self, rows: TrainingRows, *, nested: bool) -> None:
        keep = informative(rows.frame[GROUP].to_numpy(), rows.labels, self.loss)
        frame, labels = oversample_positives(rows.frame[keep].reset_index(drop=True), rows.labels[keep],
                                             self.positive_oversample)
        weights = None
        if self.group_weight == "recall":
            hidden = np.repeat(rows.group_hidden[keep], np.where(rows.labels[keep], self.positive_oversample, 1))
            weights = 1.0 / np.minimum(self.valid_k, np.maximum(hidden, 1))
        inputs = self._inputs(frame)
        threads = torch.get_num_threads() if self.thread_count is None else self.thread_count  # same trees either way
        spec = BoosterSpec(self.loss, self.iterations, self.learning_rate, self.depth, self.early_stopping_rounds,
                           self.valid_k, threads, self.random_state)
        fit = cross_fit(inputs, labels, frame[GROUP].to_numpy(), frame[USER_ID].to_numpy(), self.X_.shape[0],
                        spec=spec, n_folds=self.n_folds, eval_fraction=self.eval_fraction, nested=nested,
                        cat_features=categorical_columns(inputs), repeats=self.fold_repeats, group_weights=weights)
        self.boosters_, self.fold_of_user_, self.best_iterations_ = fit.boosters, fit.fold_of_user, fit.best_iterations
        self.booster_ = self.boosters_[0]  # the first, for inspecting one model (the report averages all)
        self.best_iteration_ = round(float(np.mean(self.best_iterations_)))

    def _inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The columns CatBoost sees: all features, the ids only when `use_ids`."""
        frame = frame.drop(columns=[GROUP], errors="ignore")
        return frame if self.use_ids else frame.drop(columns=[USER_ID, ITEM_ID])

    @property
    def _spec(self) -> CandidateSpec:
        return CandidateSpec(self._names[0], self.n_candidates, self.recent_days, self.knn_neighbours)

    # ---- scoring ------------------------------------------------------------------
    def _score(self, users: np.ndarray, folds: np.ndarray | None = None) -> np.ndarray:
        """CatBoost scores on each user's candidates; every other item gets -inf.

        The mean of the boosters, or with `folds` (repeats x users, -1: none) for the
        users in a fold the mean over the repeats of the booster of their fold in each.
        """
        frame, items = candidate_rows(self._spec, self.members_, self.X_, self.stats_, self.features_, users)
        kept = np.flatnonzero(items.ravel() >= 0)
        inputs = self._inputs(frame)
        each = np.stack([booster.predict(inputs) for booster in self.boosters_])
        predictions = each.mean(axis=0)
        if folds is not None:
            row_folds = folds[:, kept // items.shape[1]]  # a user is in a fold in every repeat or in none
            own = row_folds[0] >= 0
            n_folds = len(self.boosters_) // len(folds)
            boosters = row_folds[:, own] + n_folds * np.arange(len(folds))[:, None]
            predictions[own] = each[boosters, np.flatnonzero(own)[None, :]].mean(axis=0)
        out = np.full((len(users), self.X_.shape[1]), -np.inf, dtype=np.float32)
        out[kept // items.shape[1], items.ravel()[kept]] = predictions
        return out

    @property
    def labelled_by_(self) -> str:
        """Where the fitted boosters' labels came from: ``"valid"`` (cross-fitted, scored
        out of fold) or ``"inner"``."""
        return "inner" if self.fold_of_user_ is None else "valid"

    def score_out_of_fold(self, users: np.ndarray) -> np.ndarray:
        """Scores of `users` from boosters that never learned their validation labels:
        a user of a fold gets that fold's booster, any other user the mean (= `score`
        when the labels came from the inner hold-out)."""
        self._check_fitted()
        users = self._check_users(users)
        folds = self.fold_of_user_
        return self._score(users) if folds is None else self._score(users, np.atleast_2d(folds)[:, users])

    def candidates(self, users: np.ndarray) -> np.ndarray:
        """The (len(users), n_candidates) candidate items the reranker reorders (-1: none)."""
        self._check_fitted()
        first = self.members_[self._names[0]]
        return top_unseen(np.array(first.score(users), dtype=np.float32), self.X_[users], self.n_candidates)[0]

    def feature_importances(self, kind: str = "PredictionValuesChange") -> pd.Series:
        """CatBoost's importance of each feature (the mean over the boosters), largest first."""
        self._check_fitted()
        data = {"data": self.training_pool()} if kind == "LossFunctionChange" else {}
        values = np.mean([booster.get_feature_importance(type=kind, **data) for booster in self.boosters_], axis=0)
        return pd.Series(values, index=self.booster_.feature_names_).sort_values(ascending=False)

    def training_pool(self):
        """The CatBoost Pool the boosters learned from (only on the object `fit` returned)."""
        from catboost import Pool

        self._check_fitted()
        if not hasattr(self, "training_frame_"):
            raise NotFittedError("a loaded reranker keeps no training rows; refit it to inspect them")
        inputs = self._inputs(self.training_frame_)
        return Pool(inputs, label=self.training_labels_.astype(np.float64),
                    group_id=self.training_frame_[GROUP].to_numpy(), cat_features=categorical_columns(inputs))

    def __getstate__(self) -> dict[str, Any]:
        """Saved models leave the training rows behind (N rows per user: large, and only
        the importance report, run right after `fit`, reads them)."""
        state = self.__dict__.copy()
        state.pop("training_frame_", None)
        state.pop("training_labels_", None)
        return state

    def _check_params(self) -> None:
        super()._check_params()
        if self.loss not in LOSSES:
            raise ConfigError(f"rerank loss {self.loss!r} unknown; expected one of {LOSSES}")
        if self.group_weight not in GROUP_WEIGHTS:
            raise ConfigError(f"rerank group_weight {self.group_weight!r} unknown; expected one of {GROUP_WEIGHTS}")
        if self.label_source not in LABEL_SOURCES:
            raise ConfigError(f"rerank label_source {self.label_source!r} unknown; expected one of {LABEL_SOURCES}")
        counts = {"n_candidates": self.n_candidates, "positive_oversample": self.positive_oversample,
                  "inner_repeats": self.inner_repeats, "n_folds": self.n_folds, "fold_repeats": self.fold_repeats,
                  "early_stopping_rounds": self.early_stopping_rounds, "knn_neighbours": self.knn_neighbours,
                  "valid_k": self.valid_k}
        low = {name: value for name, value in counts.items() if value < 1}
        if low:
            raise ConfigError(f"rerank needs {', '.join(counts)} >= 1, got {low}")
        if self.thread_count is not None and (not is_whole_number(self.thread_count, -1) or self.thread_count == 0):
            raise ConfigError(f"rerank thread_count must be a whole number >= 1, or -1 for every core, "
                              f"got {self.thread_count!r}")
        if not 0.0 <= self.eval_fraction < 1.0:
            raise ConfigError(f"rerank eval_fraction must be in [0, 1), got {self.eval_fraction}")
