"""Per-user score normalisation, so that models on different scales can be added.

Every function takes a dense (n_users, n_items) block whose excluded items (seen, or
outside a reranker's candidates) are -inf, and returns finite float32 values where
excluded items get the lowest value of their row (0 for rank, min-max and RRF; the
row's minimum for z-score), so they never win a blend by accident.
"""

from __future__ import annotations

import numpy as np

from movierec.exceptions import ConfigError

METHODS = ("rank", "minmax", "zscore", "rrf")


def ranks(scores: np.ndarray) -> np.ndarray:
    """0-based rank of every item in its row, best first; ties broken by the lower index.

    Examples
    --------
    >>> ranks(np.array([[0.1, 0.9, 0.5]])).tolist()
    [[2, 0, 1]]
    """
    order = np.argsort(-scores, axis=1, kind="stable")
    out = np.empty_like(order)
    np.put_along_axis(out, order, np.broadcast_to(np.arange(scores.shape[1]), scores.shape), axis=1)
    return out


def rank_normalise(scores: np.ndarray) -> np.ndarray:
    """1 for the best item down to 1/n_valid for the worst valid one; excluded items 0."""
    finite = np.isfinite(scores)
    n_valid = np.maximum(finite.sum(axis=1, keepdims=True), 1)
    values = 1.0 - ranks(np.where(finite, scores, -np.inf)) / n_valid
    return np.where(finite, values, 0.0).astype(np.float32)


def minmax_normalise(scores: np.ndarray) -> np.ndarray:
    """(s - min) / (max - min) per row over the valid items; excluded items 0."""
    finite = np.isfinite(scores)
    low = np.min(np.where(finite, scores, np.inf), axis=1, keepdims=True)
    high = np.max(np.where(finite, scores, -np.inf), axis=1, keepdims=True)
    span = np.where(high > low, high - low, 1.0)
    values = (scores - low) / span
    return np.where(finite, values, 0.0).astype(np.float32)


def zscore_normalise(scores: np.ndarray) -> np.ndarray:
    """(s - mean) / std per row over the valid items; excluded items take the row minimum."""
    finite = np.isfinite(scores)
    count = np.maximum(finite.sum(axis=1, keepdims=True), 1)
    filled = np.where(finite, scores, 0.0).astype(np.float64)
    mean = filled.sum(axis=1, keepdims=True) / count
    var = (np.where(finite, (filled - mean) ** 2, 0.0)).sum(axis=1, keepdims=True) / count
    values = (filled - mean) / np.where(var > 0, np.sqrt(var), 1.0)
    low = np.min(np.where(finite, values, np.inf), axis=1, keepdims=True)
    low = np.where(np.isfinite(low), low, 0.0)
    return np.where(finite, values, low).astype(np.float32)


def rrf_normalise(scores: np.ndarray, k: float = 60.0) -> np.ndarray:
    """Reciprocal rank fusion term 1 / (k + rank + 1); excluded items 0.

    Cormack, Clarke, Buettcher, "Reciprocal Rank Fusion outperforms Condorcet and
    individual rank learning methods", SIGIR 2009 (k = 60 there).
    """
    finite = np.isfinite(scores)
    values = 1.0 / (k + ranks(np.where(finite, scores, -np.inf)) + 1.0)
    return np.where(finite, values, 0.0).astype(np.float32)


def normalise(scores: np.ndarray, method: str, *, rrf_k: float = 60.0) -> np.ndarray:
    """Normalise each row of `scores` with `method`, one of ``METHODS``.

    Raises
    ------
    ConfigError
        For an unknown method.
    """
    scores = np.asarray(scores, dtype=np.float32)
    if method == "rank":
        return rank_normalise(scores)
    if method == "minmax":
        return minmax_normalise(scores)
    if method == "zscore":
        return zscore_normalise(scores)
    if method == "rrf":
        return rrf_normalise(scores, rrf_k)
    raise ConfigError(f"normalisation {method!r} unknown; expected one of {METHODS}")
