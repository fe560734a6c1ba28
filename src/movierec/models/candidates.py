"""Candidate generation for two-stage recommenders, and the inner hold-out they train on.

A reranker can only reorder what its candidate generator proposes, so the share of
hidden items that survive into the candidate lists (the *candidate recall*) caps what
the second stage can reach; :func:`candidate_recall` measures it.

The reranker and the ensemble learn from labels that must not be the pipeline's
validation items (that would make the validation score of the pipeline a training
score). :func:`inner_holdout` carves a second, inner hold-out out of the training
matrix with the same per-user rule the splitters use (the last `tail` items plus a
`fraction` of the earlier ones at random), so level-two models are trained the way
they are later used: history -> items that come after it.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import scipy.sparse as sp

from movierec.data.encoded import EncodedFeatures
from movierec.data.interactions import aligned_timestamps
from movierec.exceptions import ConfigError, DataError
from movierec.models.base import Recommender, RefitAware
from movierec.ranking import DEFAULT_BATCH, ScoreFn, recommend_batched


def fit_member(
    name: str,
    params: dict[str, Any] | None,
    X: sp.csr_matrix,
    *,
    features: EncodedFeatures | None = None,
    valid: sp.csr_matrix | None = None,
    timestamps: sp.csr_matrix | None = None,
    fitted_members: dict[str, Recommender] | None = None,
) -> Recommender:
    """Create the registered model `name` with `params` and fit it.

    `timestamps` is passed only to models whose `fit` accepts that keyword, so models
    written before timestamps travelled beside `X` keep working; `fitted_members`
    (models already fitted on this `X`, by alias) only to models that have members of
    their own and can reuse them (the reranker).
    """
    from movierec.models.registry import create  # the registry imports this module's users

    model = create(name, **(params or {}))
    kwargs: dict[str, Any] = {"features": features, "valid": valid}
    if timestamps is not None and accepts(model, "timestamps"):
        kwargs["timestamps"] = timestamps
    if fitted_members and accepts(model, "fitted_members"):
        kwargs["fitted_members"] = fitted_members
    return model.fit(X, **kwargs)


def member_specs(members: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Member specs from a tuple or a comma-separated string ("ease,fm").

    The string form lets a TOML config fix the members (a TOML list would be read as
    a grid of single names). A spec is a registered model name, or ``alias=model`` to
    use one model twice with other parameters (``"ease,recent=ease"``; the alias keys
    `member_params`, the features and the weights).

    Examples
    --------
    >>> member_specs("ease, recent=ease")
    ('ease', 'recent=ease')
    """
    if isinstance(members, str):
        return tuple(name.strip() for name in members.split(",") if name.strip())
    return tuple(members)


def parse_member(spec: str) -> tuple[str, str]:
    """``(alias, registered model name)`` of a member spec.

    Examples
    --------
    >>> parse_member("recent=ease"), parse_member("fm")
    (('recent', 'ease'), ('fm', 'fm'))
    """
    alias, equals, model = spec.partition("=")
    alias, model = alias.strip(), (model if equals else alias).strip()
    if not alias or not model:
        raise ConfigError(f"member {spec!r}: expected a model name or alias=model")
    return alias, model


def member_names(members: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The members' names (their aliases where given), in order.

    Examples
    --------
    >>> member_names("ease, recent=ease")
    ('ease', 'recent')
    """
    return tuple(parse_member(spec)[0] for spec in member_specs(members))


def fit_members(
    members: str | tuple[str, ...] | list[str],
    member_params: dict[str, dict[str, Any]] | None,
    X: sp.csr_matrix,
    *,
    features: EncodedFeatures | None = None,
    valid: sp.csr_matrix | None = None,
    timestamps: sp.csr_matrix | None = None,
    fitted_members: dict[str, Recommender] | None = None,
) -> dict[str, Recommender]:
    """Every member fitted on `X`, by name (alias), with its `member_params` entry.

    `fitted_members` are models the caller already fitted on this same `X` (with the
    same `features`, `valid` and `timestamps`): a member whose alias, model and
    parameters match one of them is that model, not a second fit of it. Members fitted
    here are offered in turn to later members that have members of their own, so an
    ensemble of ``"ease,fm,rerank"`` trains EASE and FM once, not once more inside the
    reranker.
    """
    from movierec.models.registry import create

    fitted: dict[str, Recommender] = {}
    for spec in member_specs(members):
        alias, model = parse_member(spec)
        params = (member_params or {}).get(alias)
        known = (fitted_members or {}).get(alias)
        if known is not None and _same_fit(known, create(model, **(params or {})), X):
            fitted[alias] = known
            continue
        fitted[alias] = fit_member(model, params, X, features=features, valid=valid, timestamps=timestamps,
                                   fitted_members=(fitted_members or {}) | fitted)
    return fitted


def _same_fit(fitted: Recommender, unfitted: Recommender, X: sp.csr_matrix) -> bool:
    """Whether `fitted` is what fitting `unfitted` on `X` would give: same model and
    parameters, fitted on the same matrix."""
    if type(fitted) is not type(unfitted) or fitted.get_params() != unfitted.get_params():
        return False
    seen = getattr(fitted, "X_", None)
    return seen is not None and seen.shape == X.shape and seen.nnz == X.nnz and (seen != X).nnz == 0


def stopped_params(member_params: dict[str, dict[str, Any]] | None,
                   fitted: dict[str, Recommender]) -> dict[str, dict[str, Any]]:
    """Each fitted member's own parameters plus what it found on validation (its `refit_params`).

    What a member needs to train again without validation to stop on, e.g. FM's or a
    VAE's best epoch count.
    """
    own = member_params or {}
    return {name: dict(own.get(name, {})) | (dict(model.refit_params()) if isinstance(model, RefitAware) else {})
            for name, model in fitted.items()}


def accepts(model: Recommender, keyword: str) -> bool:
    """Whether ``model.fit`` takes the optional `keyword` (``timestamps``, ``fitted_members``)."""
    return keyword in inspect.signature(model.fit).parameters


def top_candidates(
    score: ScoreFn,
    users: np.ndarray,
    n_candidates: int,
    *,
    exclude: sp.csr_matrix | None,
    batch_size: int = DEFAULT_BATCH,
) -> tuple[np.ndarray, np.ndarray]:
    """The `n_candidates` best unseen items per user: `(items, scores)`, (n_users, N).

    Slots that only masked items could fill (a user who has seen almost everything)
    hold item -1, so they never count as a candidate.
    """
    items, scores = recommend_batched(score, users, n_candidates, exclude=exclude, batch_size=batch_size)
    items = np.where(np.isfinite(scores), items, -1)
    return items, scores


def candidate_recall(candidates: np.ndarray, truth: sp.csr_matrix, users: np.ndarray) -> float:
    """Share of the hidden items of `users` that appear in their candidate lists.

    ``candidates[r]`` is the list of ``users[r]``. Micro-averaged: hidden items found /
    hidden items.

    Examples
    --------
    >>> truth = sp.csr_matrix(np.array([[0, 1, 1], [1, 0, 0]], dtype=np.float32))
    >>> candidate_recall(np.array([[1, 0], [2, 1]]), truth, np.array([0, 1]))
    0.3333333333333333
    """
    truth_rows = sp.csr_matrix(truth[users])
    n_hidden = truth_rows.nnz
    if n_hidden == 0:
        return 0.0
    return float(label_pairs(truth_rows, candidates).sum() / n_hidden)


def label_pairs(truth_rows: sp.csr_matrix, candidates: np.ndarray) -> np.ndarray:
    """Boolean (n, N): is ``candidates[r, j]`` among the non-zeros of ``truth_rows[r]``."""
    n, width = candidates.shape
    rows = np.repeat(np.arange(n), width)
    cols = candidates.ravel()
    known = cols >= 0
    found = np.zeros(n * width, dtype=bool)
    found[known] = np.asarray(truth_rows[rows[known], cols[known]]).ravel() != 0
    return found.reshape(n, width)


def inner_holdout(
    X: sp.csr_matrix,
    *,
    timestamps: sp.csr_matrix | None = None,
    tail: int = 2,
    fraction: float = 0.1,
    seed: int = 0,
) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix | None]:
    """Split each user's row of `X` into an inner history and an inner hold-out.

    Per user, the last `tail` items in time plus round(`fraction` x the earlier ones)
    at random are held out; at least one item always stays in the history. Without
    `timestamps` the order in time is unknown and a seeded random order stands in for
    it, which makes the rule a plain random hold-out of the same size.

    Returns
    -------
    history, holdout : csr_matrix, same shape as X, disjoint, summing to X.
    history_timestamps : the timestamps of `history`'s entries (None without timestamps).

    Raises
    ------
    DataError
        When `timestamps` does not have exactly the non-zeros of `X`.
    """
    if tail < 0 or not 0.0 <= fraction < 1.0:
        raise DataError(f"inner hold-out needs tail >= 0 and 0 <= fraction < 1, got {tail}, {fraction}")
    X = sp.csr_matrix(X, dtype=np.float32)
    X.sort_indices()
    times = aligned_timestamps(X, timestamps)
    rng = np.random.default_rng(seed)
    n_users = X.shape[0]
    sizes = np.diff(X.indptr)
    rows = np.repeat(np.arange(n_users), sizes)
    key = rng.random(X.nnz)
    order = np.lexsort((key, times if times is not None else key, rows))  # by user, then time
    position = np.empty(X.nnz, dtype=np.int64)
    position[order] = np.arange(X.nnz) - np.repeat(X.indptr[:-1], sizes)
    size = sizes[rows]
    n_tail = np.minimum(tail, size - 1)
    held = (size - 1 - position) < n_tail
    earlier = size - n_tail
    n_random = np.minimum(np.round(fraction * earlier).astype(np.int64), earlier - 1)
    # rank the earlier entries of each user by a second random key; the first n_random go
    draw = rng.random(X.nnz)
    draw[held] = 2.0
    order = np.lexsort((draw, rows))
    rank = np.empty(X.nnz, dtype=np.int64)
    rank[order] = np.arange(X.nnz) - np.repeat(X.indptr[:-1], sizes)
    held |= rank < n_random
    history = _subset(X, ~held)
    holdout = _subset(X, held)
    history_times = None
    if times is not None:
        history_times = sp.csr_matrix((times[~held], history.indices, history.indptr), shape=X.shape)
    return history, holdout, history_times


def _subset(X: sp.csr_matrix, keep: np.ndarray) -> sp.csr_matrix:
    """The entries of `X` where `keep` is True, in X's order (so parallel arrays stay aligned)."""
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    indptr = np.r_[0, np.cumsum(np.bincount(rows[keep], minlength=X.shape[0]))]
    return sp.csr_matrix((X.data[keep], X.indices[keep], indptr), shape=X.shape)
