"""Per-user mixes of a static and a sequential list: weights by user bucket, and slot filling.

A static model (EASE, RecVAE) is best at items dropped anywhere from a history, a
sequential one (SASRec) at the items that come next; which matters more differs by
user. Two ways to let it:

- *buckets*: users are cut into quantile buckets of one of their traits (history
  length, days since their last item, share of their items in the last 30 days), and
  each bucket gets its own blend (tuned and guarded like the global one);
- *slots*: the first `n` places of the list come from the first member, the rest from
  the second (``n`` tuned on validation, the guard comparing it with each member alone).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from movierec.ensemble.tune import user_recalls
from movierec.exceptions import ConfigError

TRAITS = ("history_length", "days_since_last", "recent_share")
DAY = 86_400.0
RECENT_DAYS = 30.0


def user_traits(X: sp.csr_matrix, times: np.ndarray | None, trait: str) -> np.ndarray:
    """One value per user of `X` (times parallel to ``X.data``, or None): the bucketing trait.

    Without timestamps, the time traits are 0 for everyone (one bucket).
    """
    if trait not in TRAITS:
        raise ConfigError(f"bucket trait {trait!r} unknown; expected one of {TRAITS}")
    sizes = np.diff(X.indptr)
    if trait == "history_length":
        return sizes.astype(np.float64)
    values = np.zeros(X.shape[0])
    if times is None or X.nnz == 0:
        return values
    rows = np.repeat(np.arange(X.shape[0]), sizes)
    now = float(times.max())
    if trait == "days_since_last":
        last = np.full(X.shape[0], -np.inf)
        np.maximum.at(last, rows, times)
        return np.where(sizes > 0, (now - last) / DAY, 0.0)
    recent = np.bincount(rows, weights=(times >= now - RECENT_DAYS * DAY).astype(np.float64), minlength=X.shape[0])
    return recent / np.maximum(sizes, 1)


def bucket_edges(values: np.ndarray, n_buckets: int) -> np.ndarray:
    """Inner quantile edges cutting `values` into `n_buckets` groups (fewer where values tie)."""
    if n_buckets < 1:
        raise ConfigError(f"n_buckets must be >= 1, got {n_buckets}")
    return np.unique(np.quantile(values, np.linspace(0, 1, n_buckets + 1)[1:-1])) if len(values) else np.zeros(0)


def buckets_of(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The bucket (0..len(edges)) of each value."""
    return np.searchsorted(edges, values, side="right")


def slot_scores(first: np.ndarray, second: np.ndarray, n: int) -> np.ndarray:
    """Scores whose ranking puts `first`'s top `n` items first, then `second`'s order.

    Both blocks have excluded items at -inf; they stay -inf unless the other member
    ranks them. Ties are broken by the lower item index, as everywhere.

    Examples
    --------
    >>> first = np.array([[3.0, 2.0, 1.0, 0.0]]); second = np.array([[0.0, 1.0, 2.0, 3.0]])
    >>> np.argsort(-slot_scores(first, second, 1), kind="stable").tolist()
    [[0, 3, 2, 1]]
    """
    n_items = first.shape[1]
    order_first = np.argsort(-first, axis=1, kind="stable")
    rank_second = np.empty_like(order_first)
    np.put_along_axis(rank_second, np.argsort(-second, axis=1, kind="stable"),
                      np.broadcast_to(np.arange(n_items), first.shape), axis=1)
    out = np.where(np.isfinite(second), 1.0 - rank_second / (n_items + 1.0), -np.inf).astype(np.float32)
    top = order_first[:, :n]
    top_finite = np.isfinite(np.take_along_axis(first, top, axis=1))
    values = np.where(top_finite, 2.0 + (n - np.arange(n))[None, :] / max(n, 1), -np.inf).astype(np.float32)
    np.put_along_axis(out, top, np.maximum(np.take_along_axis(out, top, axis=1), values), axis=1)
    return out


def tune_slots(first: np.ndarray, second: np.ndarray, truth_rows: sp.csr_matrix, k: int) -> tuple[int, np.ndarray]:
    """The `n` in 0..k with the best mean Recall@k on these users, and every n's per-user recalls."""
    recalls = np.stack([user_recalls(slot_scores(first, second, n), truth_rows, k) for n in range(k + 1)])
    return int(np.argmax(recalls.mean(axis=1))), recalls


def guarded_slots(first: np.ndarray, second: np.ndarray, truth_rows: sp.csr_matrix, k: int, *, margin: float,
                  seed: int) -> tuple[int, float, float]:
    """`n` tuned on all users, kept only if, tuned on each half of the users and scored on
    the other, it beats the member better on the tuning half by more than `margin`
    standard errors; otherwise `k` (the first member alone) or 0 (the second alone).
    Returns (n, held-out gain, its standard error)."""
    best, recalls = tune_slots(first, second, truth_rows, k)
    halves = np.array_split(np.random.default_rng(seed).permutation(truth_rows.shape[0]), 2)
    differences = []
    for tuned, checked in (halves, halves[::-1]):
        means = recalls[:, tuned].mean(axis=1)
        alone = k if means[k] >= means[0] else 0
        differences.append(recalls[int(np.argmax(means)), checked] - recalls[alone, checked])
    difference = np.concatenate(differences)
    gain = float(difference.mean())
    se = float(difference.std(ddof=1) / np.sqrt(len(difference))) if len(difference) > 1 else 0.0
    if gain > 0 and gain > margin * se:
        return best, gain, se
    whole = recalls.mean(axis=1)
    return (k if whole[k] >= whole[0] else 0), gain, se
