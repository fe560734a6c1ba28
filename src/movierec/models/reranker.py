"""Two-stage recommender: candidates from collaborative models, reordered by CatBoost.

Where its labels come from, and why its validation score stays honest
---------------------------------------------------------------------
The member models that score are fitted on `X` (with `valid` for their own early
stopping, as when they run alone); the first one's top `n_candidates` unseen items
per user are the candidates. CatBoost learns which candidates are hidden positives
from one of two sources (`label_source`):

- ``"valid"`` (the default, when `fit` is given `valid`): the candidates of those very
  members, labelled with the validation items: rows built exactly like the ones
  scored at test time without a refit. The users fall into `n_folds` seeded folds;
  booster k learns from every fold but k and k+1 and early-stops on fold k+1, so fold
  k's users are never seen by booster k. :meth:`Reranker.score_out_of_fold` scores
  each validation user with the booster that never saw them (what the pipeline and
  the ensemble measure on validation); :meth:`Reranker.score` averages every booster
  (what recommends). The validation score is then as honest as any single model's.
- ``"inner"`` (and whenever no `valid` is given, e.g. the refit on train+valid): an
  *inner* hold-out carved from `X` (per user the last `inner_tail` items in time plus
  `inner_fraction` of the earlier ones, seeded; see
  :func:`movierec.models.candidates.inner_holdout`). The members are fitted again on
  the inner history, for as long as their early stopping on `valid` found (e.g. a
  VAE's epochs), so the booster learns from members that behave like the ones it
  reorders. Labels never touch `valid`, so :meth:`Reranker.score` is honest on it.

The refit on train+valid (:meth:`Reranker.refit_params` carries the members' stopped
epochs) has no validation left, so it learns from the inner hold-out.

Ideas from the winning entries of the competition this library was built for, and
from Burges, "From RankNet to LambdaRank to LambdaMART" (2010) for ranking losses;
CatBoost: Prokhorenkova et al., "CatBoost: unbiased boosting with categorical
features", NeurIPS 2018 (YetiRank: Gulin et al. 2011).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.data.encoded import EncodedFeatures
from movierec.data.interactions import aligned_timestamps
from movierec.exceptions import ConfigError, DataError, NotFittedError
from movierec.models.base import Recommender, check_matrix
from movierec.models.candidates import inner_holdout, label_pairs
from movierec.models.members import fit_members, member_names, member_specs, parse_member, stopped_params
from movierec.models.registry import register
from movierec.models.rerank_features import (
    ITEM_ID,
    KNN_NEIGHBOURS,
    USER_ID,
    categorical_columns,
    history_stats,
    pair_frame,
)
from movierec.ranking import mask_seen, top_k
from movierec.sampling import oversample_positives

GROUP = "group"  # (inner repeat, user): CatBoost's query id
PAIR_BLOCK = 2048  # users whose dense member scores are held at once while building rows
LOSSES = ("YetiRank", "YetiRankPairwise", "PairLogit", "QueryRMSE", "Logloss")
LABEL_SOURCES = ("valid", "inner")


def booster_rows(fold: np.ndarray, k: int, n_boosters: int, *, nested: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Row masks `(learns, stops)` of booster k, given each row's fold (-1: no fold).

    Cross-fitting: booster k early-stops on fold k and learns from the rest. `nested`:
    it early-stops on fold k+1 and learns from the rest but fold k, which it never sees
    and so scores out of fold.

    Examples
    --------
    >>> fold = np.array([0, 1, 2, 0])
    >>> [mask.tolist() for mask in booster_rows(fold, 0, 3, nested=True)]
    [[False, False, True, False], [False, True, False, False]]
    """
    stops = fold == ((k + 1) % n_boosters if nested else k)
    learns = ~stops & (fold != k) if nested else ~stops
    return learns, stops


@register
class Reranker(Recommender):
    """CatBoost reranker over the candidates of registered models (name ``"rerank"``).

    Parameters
    ----------
    members : registered model names (a tuple, or a comma-separated string as in a TOML
        config: ``"ease,fm"``); the first generates the candidates, every one
        contributes its score, rank and per-user z-score as features. ``alias=model``
        adds a model a second time (``"ease,recent=ease"``).
    member_params : name (alias) -> hyper-parameters of that member.
    n_candidates : candidates per user (N); their recall caps the reranker's.
    label_source : ``"valid"`` or ``"inner"``: what labels the candidates (module
        docstring). With `valid` given, ``"valid"`` needs ``n_folds >= 3``; it falls
        back to the inner hold-out without `valid`, or when fewer users than folds
        have a validation item among their candidates.
    loss : CatBoost loss, one of ``LOSSES`` (ranking losses group rows by user).
    iterations, learning_rate, depth : CatBoost's; early stopping picks the iteration.
    use_ids : give CatBoost the user and item ids as categorical features (off by
        default: on ml-100k the user id became the top feature and recall dropped,
        see docs/issue4-results.md).
    positive_oversample : repeat each positive training row this many times.
    inner_tail, inner_fraction : the inner hold-out rule (match the split's protocol:
        2 and 0.1 for the competition-like split, 0 and 0.125 for a random 80/10/10).
    inner_repeats : inner hold-outs drawn (seeds random_state, +1, ...); their rows are
        stacked, which multiplies the training data the small per-user hold-outs give
        (inner labels only).
    eval_fraction : with ``n_folds=1`` (inner labels), the share of training users kept
        aside for early stopping (0: none).
    early_stopping_rounds : iterations without a better held-out NDCG@10 before a
        booster stops (the best iteration is kept).
    n_folds : cross-fitting: the training users fall into `n_folds` seeded folds, one
        booster per fold early-stops on that fold and learns from the others (with
        validation labels: on the next fold, learning from the rest), and the
        boosters' predictions are averaged. Every user then trains some booster, and no
        single 20 % draw of users decides when to stop (validation Recall@10 on ml-100k:
        +0.002 mixed, +0.003 random over ``n_folds=1``; docs/issue4-results.md). 1: one
        booster, early-stopped on `eval_fraction` of the users (also what happens when
        there are fewer training users than folds), with inner labels only.
    recent_days : window of the "recent popularity" feature (needs timestamps).
    knn_neighbours : neighbours per item in the item-kNN feature (``knn_score``).
    thread_count : CatBoost threads.
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
    param_grid: dict[str, list[Any]] = {}

    def __init__(
        self,
        *,
        members: tuple[str, ...] = ("ease",),
        member_params: dict[str, dict[str, Any]] | None = None,
        n_candidates: int = 100,
        label_source: str = "valid",
        loss: str = "YetiRank",
        iterations: int = 600,
        learning_rate: float = 0.03,
        depth: int = 4,
        use_ids: bool = False,
        positive_oversample: int = 1,
        inner_tail: int = 2,
        inner_fraction: float = 0.1,
        inner_repeats: int = 1,
        eval_fraction: float = 0.2,
        early_stopping_rounds: int = 50,
        n_folds: int = 5,
        recent_days: float = 30.0,
        knn_neighbours: int = KNN_NEIGHBOURS,
        thread_count: int = 2,
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
        self.inner_tail = inner_tail
        self.inner_fraction = inner_fraction
        self.inner_repeats = inner_repeats
        self.eval_fraction = eval_fraction
        self.early_stopping_rounds = early_stopping_rounds
        self.n_folds = n_folds
        self.recent_days = recent_days
        self.knn_neighbours = knn_neighbours
        self.thread_count = thread_count
        self.random_state = random_state

    # ---- training -----------------------------------------------------------------
    def fit(
        self,
        X: sp.csr_matrix,
        *,
        features: EncodedFeatures | None = None,
        valid: sp.csr_matrix | None = None,
        timestamps: sp.csr_matrix | None = None,
        fitted_members: dict[str, Recommender] | None = None,
    ) -> Reranker:
        """Fit the members on `X`, then learn to reorder their candidates (labels from
        `valid` or an inner hold-out of `X`: `label_source`, module docstring).

        `timestamps` (optional, same non-zeros as `X`, seconds) orders the inner
        hold-out in time and enables the recency features; without it the hold-out is
        random and those features are absent. `fitted_members` (by alias) are models
        already fitted on `X` with the same `features`, `valid` and `timestamps`, e.g.
        by an ensemble holding this reranker; those matching a member's model and
        parameters score for it instead of being fitted again.
        """
        self._check_params()
        X = check_matrix(X)
        X.sort_indices()
        times = aligned_timestamps(X, timestamps)
        self.members_ = fit_members(self.members, self.member_params, X, features=features, valid=valid,
                                    timestamps=timestamps, fitted_members=fitted_members)
        self.stopped_params_ = stopped_params(self.member_params, self.members_)
        self.stats_ = history_stats(X, times, features, recent_days=self.recent_days,
                                    knn_neighbours=self.knn_neighbours)
        self.features_ = features
        self.X_ = X
        valid_rows = None
        if self.label_source == "valid" and valid is not None:
            if self.n_folds < 3:
                raise ConfigError(f"rerank label_source='valid' scores validation users out of fold and needs "
                                  f"n_folds >= 3, got {self.n_folds}; label_source='inner' trains one booster")
            valid_rows = self._valid_rows(X, check_matrix(valid))
        if valid_rows is not None:
            self.training_frame_, self.training_labels_, n_hidden = valid_rows
            self.training_frame_[GROUP] = self.training_frame_[USER_ID].to_numpy()
            self.training_candidate_recall_ = int(self.training_labels_.sum()) / max(n_hidden, 1)
        else:
            frames, labels, found, hidden = [], [], 0, 0
            for repeat in range(self.inner_repeats):
                frame, label, n_hidden = self._inner_rows(X, timestamps, features, self.random_state + repeat)
                frame[GROUP] = frame[USER_ID].to_numpy() + repeat * X.shape[0]
                frames.append(frame)
                labels.append(label)
                found, hidden = found + int(label.sum()), hidden + n_hidden
            self.training_candidate_recall_ = found / max(hidden, 1)
            self.training_frame_ = pd.concat(frames, ignore_index=True)
            self.training_labels_ = np.concatenate(labels)
        self.boosters_ = self._train(self.training_frame_, self.training_labels_, nested=valid_rows is not None)
        self.booster_ = self.boosters_[0]  # the first, for inspecting one model (the report averages all)
        return self

    def _valid_rows(self, X: sp.csr_matrix, valid: sp.csr_matrix) -> tuple[pd.DataFrame, np.ndarray, int] | None:
        """Rows of the scoring members' candidates labelled with `valid`, or None when
        fewer users than folds have a validation item among their candidates."""
        if valid.shape != X.shape:
            raise DataError(f"rerank valid has shape {valid.shape}, the training matrix {X.shape}")
        users = np.flatnonzero(np.diff(valid.indptr) > 0)
        if len(users) < self.n_folds:
            return None
        frame, items = self._pairs(self.members_, X, self.stats_, self.features_, users)
        labels = label_pairs(valid[users], items).ravel()[frame.index.to_numpy()]
        frame = frame.reset_index(drop=True)
        row_users = frame[USER_ID].to_numpy()
        if len(np.unique(row_users[self._informative(row_users, labels)])) < self.n_folds:
            return None
        return frame, labels, valid[users].nnz

    def _inner_rows(self, X, timestamps, features, seed) -> tuple[pd.DataFrame, np.ndarray, int]:
        """Training rows of one inner hold-out: features, labels, and the number of hidden items."""
        history, holdout, history_times = inner_holdout(
            X, timestamps=timestamps, tail=self.inner_tail, fraction=self.inner_fraction, seed=seed
        )
        members = fit_members(self.members, self.stopped_params_, history, features=features,
                              timestamps=history_times)
        stats = history_stats(history, aligned_timestamps(history, history_times), features,
                              recent_days=self.recent_days, knn_neighbours=self.knn_neighbours)
        users = np.flatnonzero(np.diff(holdout.indptr) > 0)
        frame, items = self._pairs(members, history, stats, features, users)
        labels = label_pairs(holdout[users], items).ravel()[frame.index.to_numpy()]
        return frame.reset_index(drop=True), labels, holdout.nnz

    def refit_params(self) -> dict[str, Any]:
        """The members' parameters with what their early stopping found, for a refit without valid."""
        self._check_fitted()
        return {"member_params": self.stopped_params_}

    def _pairs(self, members, history, stats, features, users) -> tuple[pd.DataFrame, np.ndarray]:
        """Feature rows of every (user, candidate), indexed by position in the flattened
        (users, candidates) grid; rows of empty slots are dropped. Built `PAIR_BLOCK`
        users at a time, so memory holds a block's dense scores, not every user's."""
        frames, blocks = [], []
        for start in range(0, max(len(users), 1), PAIR_BLOCK):  # once even for no users: same columns
            block = users[start:start + PAIR_BLOCK]
            seen = history[block]
            scores = {name: mask_seen(np.array(model.score(block), dtype=np.float32), seen)
                      for name, model in members.items()}
            items, values = top_k(scores[self._names[0]], self.n_candidates)
            items = np.where(np.isfinite(values), items, -1)
            frame = pair_frame(block, items, history, stats, features, scores)
            frame.index += start * items.shape[1]
            frames.append(frame[frame[ITEM_ID].to_numpy() >= 0])
            blocks.append(items)
        return pd.concat(frames), np.concatenate(blocks)

    def _inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The columns CatBoost sees: all features, the ids only when `use_ids`."""
        frame = frame.drop(columns=[GROUP], errors="ignore")
        return frame if self.use_ids else frame.drop(columns=[USER_ID, ITEM_ID])

    def _train(self, frame: pd.DataFrame, labels: np.ndarray, *, nested: bool = False) -> list:
        """The boosters: one early-stopped on `eval_fraction` of the users, or one per fold.

        `nested` (labels from the pipeline's validation): booster k early-stops on fold
        k+1 and learns from the others but k, so it never saw fold k, which it scores
        out of fold (`fold_of_user_`).
        """
        from catboost import CatBoost, Pool

        keep = self._informative(frame[GROUP].to_numpy(), labels)
        frame, labels = oversample_positives(frame[keep].reset_index(drop=True), labels[keep], self.positive_oversample)
        groups = frame[GROUP].to_numpy()
        rng = np.random.default_rng(self.random_state)
        # hold out users, not groups: a user's repeats must not sit on both sides
        users = frame[USER_ID].to_numpy()
        unique = np.unique(users)
        if self.n_folds > 1 and len(unique) >= self.n_folds:
            fold_of_user = rng.permutation(len(unique)) % self.n_folds
        else:
            held = rng.random(len(unique)) < self.eval_fraction if len(unique) > 10 else np.zeros(len(unique), bool)
            fold_of_user = np.where(held, 0, -1)
        fold = fold_of_user[np.searchsorted(unique, users)]
        n_boosters = max(int(fold_of_user.max(initial=-1)) + 1, 1)
        self.fold_of_user_ = None
        if nested:
            if n_boosters != self.n_folds:  # _valid_rows keeps n_folds users at least
                raise ConfigError(f"rerank needs {self.n_folds} users to cross-fit validation labels, got {len(unique)}")
            self.fold_of_user_ = np.full(self.X_.shape[0], -1, dtype=np.int64)
            self.fold_of_user_[unique] = fold_of_user
        inputs = self._inputs(frame)
        cats = categorical_columns(inputs)

        def pool(mask: np.ndarray) -> Pool:
            return Pool(inputs[mask], label=labels[mask].astype(np.float64), group_id=groups[mask],
                        cat_features=cats)

        params = {
            "loss_function": self.loss,
            "iterations": self.iterations,
            "learning_rate": self.learning_rate,
            "depth": self.depth,
            "thread_count": self.thread_count,
            "verbose": False,
            "allow_writing_files": False,
        }
        stopping = {"eval_metric": "NDCG:top=10", "od_type": "Iter", "od_wait": self.early_stopping_rounds, "use_best_model": True}
        boosters = []
        for k in range(n_boosters):
            learns, stops = booster_rows(fold, k, n_boosters, nested=nested)
            booster = CatBoost(params | {"random_seed": self.random_state + k} | (stopping if stops.any() else {}))
            booster.fit(pool(learns), eval_set=pool(stops) if stops.any() else None)
            boosters.append(booster)
        self.best_iterations_ = [self.iterations if b.get_best_iteration() is None else int(b.get_best_iteration()) + 1
                                 for b in boosters]
        self.best_iteration_ = round(float(np.mean(self.best_iterations_)))
        return boosters

    def _informative(self, groups: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Ranking losses learn nothing from a user whose candidates hold no positive."""
        if self.loss == "Logloss":
            return np.ones(len(groups), dtype=bool)
        _, inverse = np.unique(groups, return_inverse=True)
        positives = np.bincount(inverse, weights=labels.astype(np.float64))
        return positives[inverse] > 0

    # ---- scoring ------------------------------------------------------------------
    def _score(self, users: np.ndarray, folds: np.ndarray | None = None) -> np.ndarray:
        """CatBoost scores on each user's candidates; every other item gets -inf.

        The mean of the boosters, or with `folds` (one per user, -1: none) the booster
        of that fold for the users in one.
        """
        frame, items = self._pairs(self.members_, self.X_, self.stats_, self.features_, users)
        kept = np.flatnonzero(items.ravel() >= 0)
        inputs = self._inputs(frame)
        each = np.stack([booster.predict(inputs) for booster in self.boosters_])
        predictions = each.mean(axis=0)
        if folds is not None:
            row_fold = folds[kept // items.shape[1]]
            own = row_fold >= 0
            predictions[own] = each[row_fold[own], np.flatnonzero(own)]
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
        folds = self.fold_of_user_
        if folds is None:
            return self.score(users)
        users = self._check_users(users)
        return self._score(users, folds[users])

    def candidates(self, users: np.ndarray) -> np.ndarray:
        """The (len(users), n_candidates) candidate items the reranker reorders (-1: none)."""
        self._check_fitted()
        first = self.members_[self._names[0]]
        scores = mask_seen(np.array(first.score(users), dtype=np.float32), self.X_[users])
        items, values = top_k(scores, self.n_candidates)
        return np.where(np.isfinite(values), items, -1)

    def feature_importances(self, kind: str = "PredictionValuesChange") -> pd.Series:
        """CatBoost's importance of each feature (the mean over the boosters), largest first."""
        self._check_fitted()
        data = {"data": self.training_pool()} if kind == "LossFunctionChange" else {}
        values = np.mean([booster.get_feature_importance(type=kind, **data) for booster in self.boosters_], axis=0)
        return pd.Series(values, index=self.booster_.feature_names_).sort_values(ascending=False)

    def training_pool(self):
        """The CatBoost Pool the booster learned from (only on the object `fit` returned)."""
        from catboost import Pool

        self._check_fitted()
        if not hasattr(self, "training_frame_"):
            raise NotFittedError("a loaded reranker keeps no training rows; refit it to inspect them")
        frame = self.training_frame_
        inputs = self._inputs(frame)
        return Pool(inputs, label=self.training_labels_.astype(np.float64), group_id=frame[GROUP].to_numpy(),
                    cat_features=categorical_columns(inputs))

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Models saved before `knn_neighbours` existed hold a dense cosine over every
        neighbour: it loads as that (sparse) matrix, with the parameter saying so.
        Models saved before `label_source` existed learned from the inner hold-out."""
        stats = state.get("stats_")
        if stats is not None and isinstance(stats.cosine, np.ndarray):
            state.setdefault("knn_neighbours", max(stats.cosine.shape[0] - 1, 1))
            stats.cosine = sp.csr_matrix(stats.cosine)
        if "boosters_" in state and "fold_of_user_" not in state:
            state.setdefault("label_source", "inner")
            state.update(fold_of_user_=None,
                         training_candidate_recall_=state.pop("inner_candidate_recall_", float("nan")))
        super().__setstate__(state)

    def __getstate__(self) -> dict[str, Any]:
        """Saved models leave the training rows behind (N rows per user: large, and only
        the importance report, run right after `fit`, reads them)."""
        state = self.__dict__.copy()
        state.pop("training_frame_", None)
        state.pop("training_labels_", None)
        return state

    @property
    def _names(self) -> tuple[str, ...]:
        return member_names(self.members)

    def _check_params(self) -> None:
        if not self._names:
            raise ConfigError("rerank needs at least one member model (members=('ease',))")
        if len(set(self._names)) != len(self._names):
            raise ConfigError(f"rerank needs distinct member names (alias=model for a second copy), got {self.members!r}")
        if self.loss not in LOSSES:
            raise ConfigError(f"rerank loss {self.loss!r} unknown; expected one of {LOSSES}")
        if self.label_source not in LABEL_SOURCES:
            raise ConfigError(f"rerank label_source {self.label_source!r} unknown; expected one of {LABEL_SOURCES}")
        nested = {parse_member(spec)[1] for spec in member_specs(self.members)} & {self.name, "ensemble"}
        if nested:
            raise ConfigError(f"rerank members cannot be {sorted(nested)}: their scores on validation users would "
                              "be in-sample features (a reranker learns from valid)")
        counts = {"n_candidates": self.n_candidates, "positive_oversample": self.positive_oversample,
                  "inner_repeats": self.inner_repeats, "n_folds": self.n_folds,
                  "early_stopping_rounds": self.early_stopping_rounds, "knn_neighbours": self.knn_neighbours}
        low = {name: value for name, value in counts.items() if value < 1}
        if low:
            raise ConfigError(f"rerank needs {', '.join(counts)} >= 1, got {low}")
        if not 0.0 <= self.eval_fraction < 1.0:
            raise ConfigError(f"rerank eval_fraction must be in [0, 1), got {self.eval_fraction}")
