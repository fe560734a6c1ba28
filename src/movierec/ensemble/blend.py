"""Weighted blends of normalised member scores (reciprocal rank fusion is one of them)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from movierec.ensemble.normalise import normalise
from movierec.exceptions import ConfigError


def blend(
    member_scores: Sequence[np.ndarray],
    weights: Sequence[float],
    *,
    method: str = "rank",
    rrf_k: float = 60.0,
    exclude_any: bool = False,
) -> np.ndarray:
    """Sum of ``weights[m] * normalise(member_scores[m])``, shape of one member block.

    With ``method="rrf"`` and equal weights this is reciprocal rank fusion.
    Items excluded (-inf) by every member stay -inf; with `exclude_any`, items
    excluded by any member do too (e.g. to keep a reranker's candidate set).

    Examples
    --------
    >>> a = np.array([[3.0, 1.0, 2.0]]); b = np.array([[0.0, 5.0, 4.0]])
    >>> blend([a, b], [1.0, 1.0], method="rank").argmax(axis=1).tolist()
    [2]
    """
    if len(member_scores) != len(weights) or not member_scores:
        raise ConfigError(f"blend needs one weight per member: {len(member_scores)} members, {len(weights)} weights")
    total = np.zeros(np.shape(member_scores[0]), dtype=np.float32)
    excluded = np.ones(total.shape, dtype=bool) if not exclude_any else np.zeros(total.shape, dtype=bool)
    for scores, weight in zip(member_scores, weights):
        if np.shape(scores) != total.shape:
            raise ConfigError(f"member score blocks differ in shape: {np.shape(scores)} vs {total.shape}")
        total += np.float32(weight) * normalise(scores, method, rrf_k=rrf_k)
        finite = np.isfinite(scores)
        excluded = excluded | ~finite if exclude_any else excluded & ~finite
    total[excluded] = -np.inf
    return total


def normalised_stack(member_scores: Sequence[np.ndarray], method: str, *, rrf_k: float = 60.0) -> np.ndarray:
    """(n_members, n_users, n_items) normalised blocks, computed once for weight search."""
    return np.stack([normalise(scores, method, rrf_k=rrf_k) for scores in member_scores])


def blend_stack(stack: np.ndarray, weights: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """The weighted sum of a precomputed normalised stack; `excluded` items get -inf."""
    total = np.tensordot(np.asarray(weights, dtype=np.float32), stack, axes=1)
    total[excluded] = -np.inf
    return total
