"""Ranking metrics as pure functions of a hit matrix.

``hits`` is a boolean (n_users, k) array: ``hits[u, r]`` says whether the item ranked
r (0-based) for user u is relevant. ``n_relevant`` is each user's number of hidden
items. Every function returns one value per user; averaging is the caller's choice.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def hits_matrix(items: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    """Boolean (n, k): is ``items[u, r]`` among the non-zeros of ``truth[u]``.

    `truth` has one row per row of `items` (already restricted to those users).
    Entries of `items` equal to -1 (no recommendation) are never hits, and an item
    repeated in a list is a hit at its first place only (so recall stays <= 1).
    """
    n, k = items.shape
    if n == 0:
        return np.zeros((0, k), dtype=bool)
    valid = items >= 0
    rows = np.repeat(np.arange(n), k)
    values = np.asarray(truth[rows, np.where(valid, items, 0).ravel()]).reshape(n, k)
    order = np.argsort(items, axis=1, kind="stable")  # equal items: the better rank first
    ranked = np.take_along_axis(items, order, axis=1)
    repeat_sorted = np.zeros((n, k), dtype=bool)
    repeat_sorted[:, 1:] = ranked[:, 1:] == ranked[:, :-1]
    repeat = np.empty_like(repeat_sorted)
    np.put_along_axis(repeat, order, repeat_sorted, axis=1)
    return (values != 0) & valid & ~repeat


def recall_normalized_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Hits in the top k / min(k, |relevant|): the competition's Recall@k (1.0 is reachable)."""
    return hits[:, :k].sum(axis=1) / np.maximum(np.minimum(k, n_relevant), 1)


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Hits in the top k / |relevant| (plain recall, as RecBole reports it)."""
    return hits[:, :k].sum(axis=1) / np.maximum(n_relevant, 1)


def precision_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    return hits[:, :k].sum(axis=1) / k


def hit_rate_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    return hits[:, :k].any(axis=1).astype(np.float64)


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """DCG of the top k (binary gains, log2 discount) over the ideal DCG of min(k, |relevant|)."""
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits[:, :k] * discount[: hits[:, :k].shape[1]]).sum(axis=1)
    ideal_cumulative = np.r_[0.0, np.cumsum(discount)]
    idcg = ideal_cumulative[np.minimum(k, n_relevant)]
    return np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)


def coverage(items: np.ndarray, n_items: int) -> float:
    """Share of the catalogue that appears in at least one list."""
    recommended = np.unique(items[items >= 0])
    return len(recommended) / n_items if n_items else 0.0
