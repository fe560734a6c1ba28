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

import numpy as np
import scipy.sparse as sp

from movierec.data.interactions import aligned_timestamps
from movierec.exceptions import DataError
from movierec.ranking import DEFAULT_BATCH, ScoreFn, recommend_batched


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
