"""Negative items for (user, positive) pairs, drawn without Python loops over interactions.

Implicit feedback has no explicit negatives, so pairwise losses (BPR) and binary
cross-entropy train against items the user has *not* interacted with. Both samplers
draw every candidate at once and redraw only the rejected ones (items the user has
seen), a handful of vectorised rounds instead of a loop over pairs.

Membership of (user, item) in `X` is tested against the sorted keys
``user * n_items + item`` of the CSR matrix with one `searchsorted`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from movierec.exceptions import ConfigError, DataError

MAX_ROUNDS = 100


def seen_keys(X: sp.csr_matrix) -> np.ndarray:
    """Sorted int64 keys ``user * n_items + item`` of the non-zeros of `X`."""
    X = sp.csr_matrix(X)
    X.sort_indices()
    rows = np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(X.indptr))
    return rows * X.shape[1] + X.indices.astype(np.int64)  # CSR rows, sorted columns: sorted keys


def is_seen(keys: np.ndarray, users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """Boolean array: whether each (user, item) pair is among `keys`."""
    query = users.astype(np.int64) * n_items + items.astype(np.int64)
    position = np.searchsorted(keys, query)
    position = np.minimum(position, len(keys) - 1) if len(keys) else position
    return keys[position] == query if len(keys) else np.zeros(len(query), dtype=bool)


def uniform_negatives(
    X: sp.csr_matrix,
    users: np.ndarray,
    n_negatives: int,
    rng: np.random.Generator,
    *,
    keys: np.ndarray | None = None,
) -> np.ndarray:
    """Items drawn uniformly among those each user has not seen.

    Parameters
    ----------
    X : csr_matrix (n_users, n_items), the user's known positives.
    users : int array (n,), the user of each pair.
    n_negatives : negatives per pair.
    rng : numpy Generator (the only source of randomness).
    keys : optional precomputed :func:`seen_keys` of `X`, reused across epochs.

    Returns
    -------
    int64 array (n, n_negatives).

    Raises
    ------
    ConfigError
        For n_negatives < 1.
    DataError
        If a user has seen every item (no negative exists).

    Examples
    --------
    >>> X = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 1]], dtype=np.float32))
    >>> uniform_negatives(X, np.array([1, 1]), 2, np.random.default_rng(0)).ravel().tolist()
    [0, 0, 0, 0]
    """
    return _rejection(X, users, n_negatives, rng, keys, probabilities=None)


def popularity_negatives(
    X: sp.csr_matrix,
    users: np.ndarray,
    n_negatives: int,
    rng: np.random.Generator,
    *,
    alpha: float = 0.75,
    keys: np.ndarray | None = None,
) -> np.ndarray:
    """Unseen items drawn with probability proportional to ``count ** alpha``.

    Popular items are the hard negatives a ranker must learn to push below a user's
    taste; ``alpha = 0.75`` is word2vec's smoothing, 0 gives uniform sampling. Items
    with no positive keep a small floor so every item can be drawn.

    Returns int64 array (len(users), n_negatives); raises DataError like
    :func:`uniform_negatives`.
    """
    return _rejection(X, users, n_negatives, rng, keys, probabilities=popularity_probabilities(X, alpha=alpha))


def popularity_probabilities(X: sp.csr_matrix, *, alpha: float = 0.75) -> np.ndarray:
    """Each item's probability under :func:`popularity_negatives` before seen items are
    rejected: ``(count + 1) ** alpha``, normalised."""
    counts = np.asarray(X.sum(axis=0), dtype=np.float64).ravel()
    weights = np.power(counts + 1.0, alpha)
    return weights / weights.sum()


def _rejection(
    X: sp.csr_matrix,
    users: np.ndarray,
    n_negatives: int,
    rng: np.random.Generator,
    keys: np.ndarray | None,
    probabilities: np.ndarray | None,
) -> np.ndarray:
    if n_negatives < 1:
        raise ConfigError(f"n_negatives must be >= 1, got {n_negatives}")
    n_users, n_items = X.shape
    users = np.asarray(users, dtype=np.int64)
    full = np.flatnonzero(np.diff(X.indptr)[np.unique(users)] >= n_items) if len(users) else []
    if len(full):
        raise DataError(f"user {np.unique(users)[full[0]]} has seen all {n_items} items: no negative to sample")
    keys = seen_keys(X) if keys is None else keys
    flat_users = np.repeat(users, n_negatives)
    items = _draw(rng, n_items, len(flat_users), probabilities)
    pending = np.flatnonzero(is_seen(keys, flat_users, items, n_items))
    for _ in range(MAX_ROUNDS):
        if not len(pending):
            break
        items[pending] = _draw(rng, n_items, len(pending), probabilities)
        pending = pending[is_seen(keys, flat_users[pending], items[pending], n_items)]
    else:
        # Users who have seen almost everything: finish them exactly from their unseen set.
        for position in pending:
            user = flat_users[position]
            unseen = np.setdiff1d(np.arange(n_items), X.indices[X.indptr[user] : X.indptr[user + 1]])
            items[position] = rng.choice(unseen)
    return items.reshape(len(users), n_negatives)


def _draw(rng: np.random.Generator, n_items: int, size: int, probabilities: np.ndarray | None) -> np.ndarray:
    if probabilities is None:
        return rng.integers(0, n_items, size=size, dtype=np.int64)
    cumulative = np.cumsum(probabilities)
    return np.minimum(np.searchsorted(cumulative, rng.random(size) * cumulative[-1], side="right"), n_items - 1)
