"""The ensemble as a registered model: members fit together, their scores blended.

Where the weights come from, honestly
-------------------------------------
The blend weights and the normalisation are hyper-parameters, so they are chosen the
way the pipeline chooses every hyper-parameter: on validation. With
``tune_on="valid"`` (the default) and a `valid` matrix given to `fit`, the members are
fit on `X` (receiving `valid`, exactly as when they run alone: for their early
stopping, and a reranker for its labels) and the weights are searched on `valid`,
reading each member's `score_out_of_fold` (a reranker that learned from `valid`
scores each user there with a booster that never saw them; recommending then uses
the mean of its boosters, whose scale differs a little: rank and RRF blends do not
mind, min-max and z-score barely); the test part is never seen. The ensemble's own
validation score is then in-sample for its few weights, as the validation score of
every grid-searched model is for its grid. With ``tune_on="inner"``, or when no
`valid` is given (a refit on train+valid without `weights`), an inner hold-out is
carved from `X` (:class:`movierec.models.composite.base.CompositeModel`), the members
are fit on the inner history without `valid`, the weights tuned on the inner
hold-out, and the members refit on `X`: the weights never see `valid`, at the price
of tuning on weaker members (and, for a reranker member, on one that learned from
its inner hold-out while the final one learns from `valid`).

:meth:`refit_params` returns the weights, the normalisation and each member's own
refit parameters, so the pipeline's refit on train+valid reuses them without tuning.
"""

from __future__ import annotations

import numbers
from collections import ChainMap
from typing import Any

import numpy as np
import scipy.sparse as sp

from movierec.data.encoded import EncodedFeatures
from movierec.data.interactions import aligned_timestamps, users_with_items
from movierec.ensemble.blend import blend
from movierec.ensemble.mix import TRAITS, bucket_edges, buckets_of, guarded_slots, slot_scores, user_traits
from movierec.ensemble.normalise import METHODS
from movierec.ensemble.tune import BlendChoice, guarded_weights, tune_weights
from movierec.exceptions import ConfigError
from movierec.models.base import Recommender, check_history, folds_in, validation_scorer
from movierec.models.composite.base import CompositeModel
from movierec.models.composite.reranker import Reranker
from movierec.models.single import SINGLE_MODELS
from movierec.ranking import DEFAULT_BATCH, batches, mask_seen

MIXES = ("global", "buckets", "slots")
MIN_BUCKET_USERS = 50  # a bucket with fewer validation users takes the global blend


class Ensemble(CompositeModel):
    """Weighted blend of per-user normalised scores of registered models (``"ensemble"``).

    Parameters
    ----------
    members : model names, no duplicates (a tuple, or a comma-separated string:
        ``"ease,fm"``): single models or a reranker; ``alias=model`` adds a model a
        second time under another name (``"ease,recent=ease"``).
    member_params : name (alias) -> that member's hyper-parameters.
    method : ``"rank"``, ``"minmax"``, ``"zscore"``, ``"rrf"`` or ``"auto"`` (tune all).
    weights : name -> weight; given, no tuning happens (the refit path).
    rrf_k : the constant of reciprocal rank fusion.
    n_trials : Optuna trials per normalisation.
    tune_on : ``"valid"`` or ``"inner"`` (see the module docstring).
    guard : keep a tuned blend only if it also beats the best member on tuning users it
        was not fitted on (two halves, each tuned on the other); else use that member
        alone (:func:`movierec.ensemble.tune.guarded_weights`).
    guard_margin : how many standard errors (of the per-user differences) the held-out
        gain must exceed for the blend to be kept (0: any gain).
    inner_tail, inner_fraction : the inner hold-out rule, used by ``tune_on="inner"``
        and whenever no `valid` is given.
    mix : ``"global"`` (one blend for every user), ``"buckets"`` (one blend per quantile
        bucket of users by `bucket_by`, each tuned and guarded on its own users) or
        ``"slots"`` (two members: the first `n` places from the first, the rest from
        the second, `n` tuned and guarded): :mod:`movierec.ensemble.mix`.
    bucket_by : ``"history_length"``, ``"days_since_last"`` or ``"recent_share"``.
    n_buckets : buckets of ``mix="buckets"`` (a bucket with under `MIN_BUCKET_USERS`
        validation users takes the global blend).
    valid_k : list length of the Recall that the weight search maximises (the run's k).
    random_state : seed of the inner hold-out and of the search.

    Examples
    --------
    >>> X = sp.random(40, 15, density=0.3, format="csr", random_state=0, dtype=np.float32)
    >>> X.data[:] = 1
    >>> model = Ensemble(members=("ease", "pop"), weights={"ease": 1.0, "pop": 0.1}).fit(X)
    >>> model.recommend(np.array([0, 1]), k=2)[0].shape
    (2, 2)
    """

    name = "ensemble"
    catalogue = ChainMap(SINGLE_MODELS, {Reranker.name: Reranker})

    def __init__(
        self,
        *,
        members: str | tuple[str, ...] = ("ease", "pop"),
        member_params: dict[str, dict[str, Any]] | None = None,
        method: str = "auto",
        weights: dict[str, float] | None = None,
        rrf_k: float = 60.0,
        n_trials: int = 60,
        tune_on: str = "valid",
        guard: bool = True,
        guard_margin: float = 1.0,
        inner_tail: int = 2,
        inner_fraction: float = 0.1,
        mix: str = "global",
        bucket_by: str = "history_length",
        n_buckets: int = 3,
        valid_k: int = 10,
        random_state: int = 0,
    ) -> None:
        self.members = members
        self.member_params = member_params
        self.method = method
        self.weights = weights
        self.rrf_k = rrf_k
        self.n_trials = n_trials
        self.tune_on = tune_on
        self.guard = guard
        self.guard_margin = guard_margin
        self.inner_tail = inner_tail
        self.inner_fraction = inner_fraction
        self.mix = mix
        self.bucket_by = bucket_by
        self.n_buckets = n_buckets
        self.valid_k = valid_k
        self.random_state = random_state

    def _fit(self, X: sp.csr_matrix, *, features: EncodedFeatures | None, valid: sp.csr_matrix | None,
             timestamps: sp.csr_matrix | None) -> None:
        """Fit the members on `X`; tune the weights unless `weights` is given."""
        self.members_ = self._fit_members(X, features=features, valid=valid, timestamps=timestamps)
        self.traits_ = user_traits(X, aligned_timestamps(X, timestamps), self.bucket_by)
        self.bucket_edges_, self.bucket_choices_, self.slots_ = np.zeros(0), [], None
        if self.weights is not None:
            self.choice_ = BlendChoice(self._method_or("rank"), self._weights_tuple(), float("nan"), {})
        elif self.tune_on == "valid" and valid is not None:
            self.choice_ = self._tune(self.members_, X, valid, self.traits_)
        else:
            inner = self._inner_fit(X, features=features, timestamps=timestamps, seed=self.random_state)
            traits = user_traits(inner.history, aligned_timestamps(inner.history, inner.history_times),
                                 self.bucket_by)
            self.choice_ = self._tune(inner.members, inner.history, inner.holdout, traits)

    def _member_scores(self, members: dict[str, Recommender], history: sp.csr_matrix,
                       users: np.ndarray, *, out_of_fold: bool = False) -> list[np.ndarray]:
        """Each member's scores with the history masked, so ranks count unseen items only;
        `out_of_fold`: the scores that measure validation honestly (a reranker that
        learned from the validation labels scores each user with a booster that did not)."""
        seen = history[users]
        return [mask_seen(np.array((validation_scorer(members[name]) if out_of_fold else members[name].score)(users),
                                   dtype=np.float32), seen)
                for name in self._names]

    def _tune(self, members: dict[str, Recommender], history: sp.csr_matrix, truth: sp.csr_matrix,
              traits: np.ndarray) -> BlendChoice:
        """The global blend (returned), and the per-bucket blends or slots of the mix."""
        users = users_with_items(truth)
        if len(users) == 0:
            raise ConfigError("ensemble weight tuning found no user with held-out items")
        scores: list[list[np.ndarray]] = [[] for _ in self._names]
        for batch in batches(users, DEFAULT_BATCH):
            for block, member in zip(self._member_scores(members, history, batch, out_of_fold=True), scores):
                member.append(block)
        stacked = [np.concatenate(blocks) for blocks in scores]
        truth_rows = sp.csr_matrix(truth[users])
        if self.mix == "slots":
            self.slots_, gain, se = guarded_slots(*stacked, truth_rows, self.valid_k,
                                                  margin=self.guard_margin if self.guard else 0.0,
                                                  seed=self.random_state)
            share = self.slots_ / self.valid_k
            return BlendChoice("slots", (share, 1.0 - share), float("nan"), {}, gain, se)
        choice = self._blend_choice(stacked, truth_rows)
        if self.mix == "buckets":
            self.bucket_edges_ = bucket_edges(traits[users], self.n_buckets)
            bucket = buckets_of(traits[users], self.bucket_edges_)
            self.bucket_choices_ = [
                self._blend_choice([block[bucket == b] for block in stacked], truth_rows[bucket == b])
                if (bucket == b).sum() >= MIN_BUCKET_USERS else choice
                for b in range(len(self.bucket_edges_) + 1)]
        return choice

    def _blend_choice(self, stacked: list[np.ndarray], truth_rows: sp.csr_matrix) -> BlendChoice:
        methods = METHODS if self.method == "auto" else (self.method,)
        guard = {"margin": self.guard_margin} if self.guard else {}
        return (guarded_weights if self.guard else tune_weights)(
            stacked, truth_rows, k=self.valid_k, methods=methods, n_trials=self.n_trials, rrf_k=self.rrf_k,
            seed=self.random_state, **guard)

    def continued(self, history: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> Ensemble:
        """The composite's continued copy (its sequence members read `history`), which also
        masks `history` in the members' scores before they are ranked and mixed: the items a
        user's continued history holds are not recommended, so they must not take ranks in
        the blend, nor the slots of a slot mix (which would leave those slots empty)."""
        longer = super().continued(history, timestamps)
        longer.seen_ = sp.csr_matrix(history)
        return longer

    def _score(self, users: np.ndarray, out_of_fold: bool = False) -> np.ndarray:
        seen = self.__dict__.get("seen_", self.X_)  # the fitted history, or the continued one
        blocks = self._member_scores(self.members_, seen, users, out_of_fold=out_of_fold)
        return self._mix(blocks, self.traits_[users])

    def _mix(self, blocks: list[np.ndarray], traits: np.ndarray) -> np.ndarray:
        """The members' masked score blocks of some users, mixed as tuned (`traits`: the users' bucket trait)."""
        if self.slots_ is not None:
            return slot_scores(blocks[0], blocks[1], self.slots_)
        if not self.bucket_choices_:
            return blend(blocks, self.choice_.weights, method=self.choice_.method, rrf_k=self.rrf_k)
        bucket = buckets_of(traits, self.bucket_edges_)
        out = np.empty(np.shape(blocks[0]), dtype=np.float32)
        for b, choice in enumerate(self.bucket_choices_):
            rows = bucket == b
            if rows.any():
                out[rows] = blend([block[rows] for block in blocks], choice.weights, method=choice.method,
                                  rrf_k=self.rrf_k)
        return out

    @property
    def can_fold_in(self) -> bool:
        """Whether :meth:`score_history` works: every member with a weight folds in, and a bucket
        mix buckets by history length (a new history's times order it, they do not place it in time)."""
        self._check_fitted()
        return self._fold_in_obstacle() is None

    def _idle_members(self) -> set[str]:
        """Members every blend in use weighs 0 (the guard kept others alone): a new
        history needs no scores from them."""
        if self.slots_ is not None:
            return set()
        choices = self.bucket_choices_ or [self.choice_]  # what `_mix` reads
        return {name for m, name in enumerate(self._names) if all(c.weights[m] == 0 for c in choices)}

    def _fold_in_obstacle(self) -> str | None:
        idle = self._idle_members()
        unable = [name for name, member in self.members_.items() if name not in idle and not folds_in(member)]
        if unable:
            return f"its members {unable} cannot score a new history"
        if self.bucket_choices_ and self.bucket_by != "history_length":
            return f"it blends by buckets of {self.bucket_by!r}, which a new history's order does not give"
        return None

    def score_history(self, history: sp.csr_matrix, timestamps: sp.csr_matrix | None = None) -> np.ndarray:
        """Fold-in: each member scores the histories (:class:`FoldIn`), their scores are mixed
        as for a fitted user. A ConfigError says why when a member cannot fold in."""
        rows = check_history(self, history)
        obstacle = self._fold_in_obstacle()
        if obstacle is not None:
            raise ConfigError(f"this ensemble cannot score a new user: {obstacle}")
        idle = self._idle_members()  # their weight is 0: a block of zeros, masked like theirs, adds nothing
        blocks = [mask_seen(np.zeros(rows.shape, dtype=np.float32) if name in idle else
                            np.array(self.members_[name].score_history(rows, timestamps), dtype=np.float32), rows)
                  for name in self._names]
        return self._mix(blocks, user_traits(rows, None, self.bucket_by))

    def score_out_of_fold(self, users: np.ndarray) -> np.ndarray:
        """The blend of the members' validation scores (out of fold where a member has them)."""
        self._check_fitted()
        return self._score(self._check_users(users), out_of_fold=True)

    @property
    def weights_(self) -> dict[str, float]:
        """Member name -> weight in use."""
        self._check_fitted()
        return dict(zip(self._names, self.choice_.weights))

    def refit_params(self) -> dict[str, Any]:
        """Weights, normalisation and members' refit parameters for a refit without validation
        (a per-user mix is tuned again there, on an inner hold-out)."""
        fixed = {"weights": self.weights_, "method": self.choice_.method} if self.mix == "global" else {}
        return fixed | super().refit_params()

    def _method_or(self, default: str) -> str:
        return default if self.method == "auto" else self.method

    def _weights_tuple(self) -> tuple[float, ...]:
        missing = set(self._names) - set(self.weights or {})
        if missing:
            raise ConfigError(f"ensemble weights miss members {sorted(missing)}; give one weight per member")
        return tuple(float(self.weights[name]) for name in self._names)

    def _check_params(self) -> None:
        super()._check_params()
        if self.method != "auto" and self.method not in METHODS:
            raise ConfigError(f"ensemble method {self.method!r} unknown; expected 'auto' or one of {METHODS}")
        if self.tune_on not in ("valid", "inner"):
            raise ConfigError(f"ensemble tune_on must be 'valid' or 'inner', got {self.tune_on!r}")
        if self.valid_k < 1 or self.n_buckets < 1:
            raise ConfigError(f"ensemble valid_k and n_buckets must be >= 1, got {self.valid_k}, {self.n_buckets}")
        if self.mix not in MIXES:
            raise ConfigError(f"ensemble mix {self.mix!r} unknown; expected one of {MIXES}")
        if self.bucket_by not in TRAITS:
            raise ConfigError(f"ensemble bucket_by {self.bucket_by!r} unknown; expected one of {TRAITS}")
        if self.weights is not None:
            if not isinstance(self.weights, dict):
                raise ConfigError(f"ensemble weights are a table of member -> weight, got {self.weights!r}")
            odd = {name: value for name, value in self.weights.items()
                   if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)
                   or not np.isfinite(value)}
            if odd:
                raise ConfigError(f"ensemble weights must be finite numbers, got {odd}")
        if self.mix == "slots" and (len(self._names) != 2 or self.weights is not None):
            raise ConfigError(f"ensemble mix='slots' fills a list from exactly two members (no weights); "
                              f"got {self.members!r}")
