"""Beyond accuracy: what a list shows besides hits, as pure per-user functions.

``items`` is an (n_users, k) array of recommended item indices (-1 pads short lists),
``popularity`` the number of users with each item in their history (the history the
lists were made from), ``n_users`` how many users that history has. Every function
returns one value per user except :func:`exposure_gini`, which is one figure for the
whole set of lists (exposure is a property of the catalogue, not of a user).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from movierec.exceptions import ConfigError

DIVERSITY_VALUES = 4_000_000  # floats of the per-user similarity blocks held at once


def item_popularity(history: sp.csr_matrix) -> np.ndarray:
    """Users per item in `history` (users x items)."""
    return np.bincount(history.indices, minlength=history.shape[1]).astype(np.float64)


def novelty(items: np.ndarray, popularity: np.ndarray, n_users: int) -> np.ndarray:
    """Mean self-information of the list, -log2(share of users who have the item).

    An item nobody has counts as seen by half a user (finite, and the most novel).
    """
    share = np.maximum(popularity, 0.5) / max(n_users, 1)
    return _row_mean(-np.log2(share), items)


def recommended_popularity(items: np.ndarray, popularity: np.ndarray) -> np.ndarray:
    """Mean popularity (users per item) of the recommended items."""
    return _row_mean(popularity, items)


def popularity_lift(items: np.ndarray, popularity: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
    """Mean popularity of the list over the mean popularity of the user's own history.

    Above 1: the lists are more mainstream than what the user watched. `history` has
    one row per row of `items`; a user with no history gets NaN.
    """
    seen = sp.csr_matrix(history, dtype=bool).astype(np.float64)
    counts = np.asarray(seen.sum(axis=1)).ravel()
    own = np.where(counts > 0, (seen @ popularity) / np.maximum(counts, 1), np.nan)
    return recommended_popularity(items, popularity) / own


def intra_list_diversity(items: np.ndarray, genres: sp.csr_matrix) -> np.ndarray:
    """Mean pairwise cosine distance of the listed items' genre vectors (0: all alike).

    `genres` is items x genres (multi-hot). Pairs with an item without genres, and
    padded slots, are left out; a list with fewer than two such items gets NaN.
    """
    dense = genres.toarray().astype(np.float64)
    norms = np.linalg.norm(dense, axis=1)
    unit = np.divide(dense, norms[:, None], out=np.zeros_like(dense), where=norms[:, None] > 0)
    out = np.empty(len(items))
    k = items.shape[1]
    step = max(1, DIVERSITY_VALUES // max(k * k + k * dense.shape[1], 1))  # users per block: bounded memory
    for start in range(0, len(items), step):
        block = items[start : start + step]
        valid = (block >= 0) & (norms[np.maximum(block, 0)] > 0)
        vectors = unit[np.maximum(block, 0)] * valid[..., None]  # (users, k, genres)
        similarity = vectors @ vectors.transpose(0, 2, 1)
        pairs = valid[:, :, None] & valid[:, None, :] & ~np.eye(k, dtype=bool)
        n_pairs = pairs.sum(axis=(1, 2))
        distance = np.where(pairs, 1.0 - similarity, 0.0).sum(axis=(1, 2))
        out[start : start + step] = np.where(n_pairs > 0, distance / np.maximum(n_pairs, 1), np.nan)
    return out


def exposure_gini(items: np.ndarray, n_items: int) -> float:
    """Gini coefficient of how often each catalogue item is recommended: 0 when every item
    is listed equally often, (n_items - 1) / n_items when one item takes every slot."""
    listed = items[items >= 0]
    if listed.size and listed.max() >= n_items:
        raise ConfigError(f"item index {int(listed.max())} is outside a catalogue of {n_items} items")
    counts = np.sort(np.bincount(listed, minlength=n_items).astype(np.float64))
    total = counts.sum()
    if n_items == 0 or total == 0:
        return 0.0
    ranks = np.arange(1, n_items + 1)
    return float((2 * ranks - n_items - 1) @ counts / (n_items * total))


def _row_mean(values: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Mean of values[item] over each row's real (non -1) items; NaN for an empty row."""
    valid = items >= 0
    picked = np.where(valid, values[np.maximum(items, 0)], 0.0)
    counts = valid.sum(axis=1)
    return np.where(counts > 0, picked.sum(axis=1) / np.maximum(counts, 1), np.nan)
