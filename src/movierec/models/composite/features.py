"""Features of (user, candidate item) pairs for the second-stage reranker.

Everything here is computed from one history matrix (and its timestamps, when the
caller has them), so the same code builds the training rows (inner history -> inner
hold-out) and the scoring rows (full history -> future items) and the two cannot
drift apart. Counts are turned into shares (of users, of history length) for the
same reason: the inner history is smaller than the full one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.data.dataset import FieldKind
from movierec.data.encoded import EncodedFeatures, FeatureField
from movierec.models.recency import steps_from_last

DAY = 86_400.0
USER_ID, ITEM_ID = "user_id", "item_id"
SEQUENCE_WINDOW = 5  # successors counted per item in the transition feature
SEQUENCE_LAST = (1, 5)  # the user's last m items the transition feature starts from
KNN_NEIGHBOURS = 100  # neighbours kept per item in the item-kNN feature
COSINE_BLOCK = 1024  # items whose dense similarity rows are held at once


@dataclass
class HistoryStats:
    """Per-user and per-item summaries of a history `X` (users x items).

    Time features exist only when timestamps were given; `now` is the latest
    timestamp of the history, the moment recommendations are made for.
    """

    item: dict[str, np.ndarray]
    user: dict[str, np.ndarray]
    cosine: sp.csr_matrix  # items x items: cosine to each item's nearest neighbours
    profiles: dict[str, sp.csr_matrix] = field(default_factory=dict)  # users x field values
    item_first: np.ndarray | None = None
    user_last: np.ndarray | None = None
    item_time_keys: np.ndarray | None = None  # sorted (item << 32) + time, for windowed counts
    time_sorted: np.ndarray | None = None  # every interaction time, sorted
    window: float = 30.0 * DAY
    transitions: sp.csr_matrix | None = None  # items x items: share of i's successors that are j
    last_items: dict[int, sp.csr_matrix] = field(default_factory=dict)  # m -> users x items, last m entries


def history_stats(
    X: sp.csr_matrix,
    times: np.ndarray | None,
    features: EncodedFeatures | None,
    *,
    recent_days: float = 30.0,
    knn_neighbours: int = KNN_NEIGHBOURS,
) -> HistoryStats:
    """Summaries of `X`; `times` is parallel to ``X.data`` (sorted indices) or None."""
    n_users, n_items = X.shape
    activity = np.diff(X.indptr).astype(np.float64)
    item_count = np.bincount(X.indices, minlength=n_items).astype(np.float64)
    popularity = item_count / n_users
    rows = np.repeat(np.arange(n_users), np.diff(X.indptr))
    mean_pop = np.bincount(rows, weights=popularity[X.indices], minlength=n_users) / np.maximum(activity, 1)
    item = {"item_pop": popularity}
    user = {"user_activity": activity, "user_mean_pop": mean_pop}
    stats_first = stats_last = None
    if times is not None and X.nnz:
        now = float(times.max())
        recent = times >= now - recent_days * DAY
        item["item_pop_recent"] = np.bincount(X.indices[recent], minlength=n_items) / max(recent.sum(), 1)
        first = np.full(n_items, np.inf)
        np.minimum.at(first, X.indices, times)
        last_item = np.full(n_items, -np.inf)
        np.maximum.at(last_item, X.indices, times)
        user_last = np.full(n_users, -np.inf)
        np.maximum.at(user_last, rows, times)
        user_first = np.full(n_users, np.inf)
        np.minimum.at(user_first, rows, times)
        item["item_days_since_first"] = _days(now - first)
        item["item_days_since_last"] = _days(now - last_item)
        user["user_days_since_last"] = _days(now - user_last)
        user["user_span_days"] = _days(user_last - user_first)
        stats_first, stats_last = first, user_last
        keys = np.sort((X.indices.astype(np.int64) << 32) + _clock(times))
        sorted_times = np.sort(times)
    stats = HistoryStats(item, user, item_cosine(X, knn_neighbours), item_first=stats_first, user_last=stats_last)
    if stats_first is not None:
        stats.item_time_keys, stats.time_sorted, stats.window = keys, sorted_times, recent_days * DAY
        stats.transitions = item_transitions(X, times, SEQUENCE_WINDOW)
        steps = steps_from_last(X, times)
        for m in SEQUENCE_LAST:
            last = X.copy()
            last.data = (steps < m).astype(np.float32)
            last.eliminate_zeros()
            stats.last_items[m] = last
    if features is not None:
        share = sp.diags(1.0 / np.maximum(activity, 1)) @ X.astype(np.float64)
        for name, fld in features.item_fields.items():
            stats.profiles[name] = sp.csr_matrix(share @ fld.matrix)
            numeric = numeric_values(fld)
            if numeric is not None:
                item[f"item_{name}"] = numeric
                known = np.isfinite(numeric)
                sums = X @ np.where(known, numeric, 0.0)
                counts = X @ known.astype(np.float64)
                with np.errstate(invalid="ignore", divide="ignore"):
                    user[f"user_mean_{name}"] = np.where(counts > 0, sums / counts, np.nan)
        for name, fld in features.user_fields.items():
            if fld.kind is FieldKind.ONE_HOT:
                user[f"user_{name}"] = one_hot_codes(fld)
    return stats


def item_cosine(X: sp.csr_matrix, neighbours: int = KNN_NEIGHBOURS) -> sp.csr_matrix:
    """Items x items: each item's cosine similarity to its `neighbours` most similar
    items (by item columns of `X`; itself excluded), the item-kNN signal.

    Built `COSINE_BLOCK` items at a time, so memory holds a block's dense rows (and
    their ordering) and the sparse result (n_items x neighbours), never the full
    n_items^2 matrix (2.7 GB in float32 at MovieLens 20M's 26,744 items). Meant for
    non-negative interaction weights; ties at the k-th neighbour are broken by
    `np.argpartition` (arbitrary but deterministic), and zero similarities are dropped.
    """
    n_items = X.shape[1]
    rows_of_items = sp.csr_matrix(X.T, dtype=np.float32)  # items x users, sliced by item once per block
    by_user = sp.csr_matrix(X, dtype=np.float32)
    norms = np.sqrt(np.asarray(rows_of_items.multiply(rows_of_items).sum(axis=1)).ravel()).astype(np.float32)
    norms[norms == 0] = 1.0
    keep = min(neighbours, n_items - 1)
    rows, cols, values = [], [], []
    for start in range(0, n_items if keep > 0 else 0, COSINE_BLOCK):
        block = np.arange(start, min(start + COSINE_BLOCK, n_items))
        similar = np.asarray((rows_of_items[block] @ by_user).toarray(), dtype=np.float32)
        similar /= norms[block, None] * norms[None, :]
        similar[np.arange(len(block)), block] = 0.0
        top = np.argpartition(-similar, keep - 1, axis=1)[:, :keep]
        rows.append(np.repeat(block, keep))
        cols.append(top.ravel())
        values.append(np.take_along_axis(similar, top, axis=1).ravel())
    if not rows:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    cosine = sp.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(n_items, n_items), dtype=np.float32)
    cosine.eliminate_zeros()
    return cosine


def item_transitions(X: sp.csr_matrix, times: np.ndarray, window: int) -> sp.csr_matrix:
    """Items x items: of the items that came within `window` steps after item i in some
    user's history, the share that were item j (rows sum to 1, or 0 for an item never
    followed). A first-order sequential signal (as in FPMC, Rendle et al. 2010): what
    people watch right after what a user watched last.

    Ties in time are ordered by item index, so the order within one second is arbitrary
    but fixed.
    """
    n_items = X.shape[1]
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    order = np.lexsort((X.indices, times, rows))
    users, items = rows[order], X.indices[order]
    sources, targets = [], []
    for step in range(1, window + 1):  # a loop over offsets, not over interactions
        same = users[:-step] == users[step:]
        sources.append(items[:-step][same])
        targets.append(items[step:][same])
    src, dst = np.concatenate(sources), np.concatenate(targets)
    counts = sp.csr_matrix((np.ones(len(src), dtype=np.float32), (src, dst)), shape=(n_items, n_items))
    totals = np.asarray(counts.sum(axis=1)).ravel()
    return sp.csr_matrix(sp.diags(1.0 / np.maximum(totals, 1.0)).astype(np.float32) @ counts)


def numeric_values(fld: FeatureField) -> np.ndarray | None:
    """Per-entity number of a one-hot field whose values are all numbers (e.g. year), else None."""
    if fld.kind is not FieldKind.ONE_HOT:
        return None
    values = pd.to_numeric(pd.Series(fld.vocabulary), errors="coerce").to_numpy(dtype=np.float64)
    if len(values) == 0 or np.isnan(values).any():
        return None
    has = np.diff(fld.matrix.indptr) > 0
    out = np.full(fld.matrix.shape[0], np.nan)
    out[has] = values[fld.matrix.indices[fld.matrix.indptr[:-1][has]]]
    return out


def one_hot_codes(fld: FeatureField) -> np.ndarray:
    """Column index of each entity's value in a one-hot field; -1 where it has none."""
    has = np.diff(fld.matrix.indptr) > 0
    codes = np.full(fld.matrix.shape[0], -1, dtype=np.int64)
    codes[has] = fld.matrix.indices[fld.matrix.indptr[:-1][has]]
    return codes


def member_columns(scores: np.ndarray, items: np.ndarray, prefix: str) -> dict[str, np.ndarray]:
    """Score, rank (0 = best) and per-user z-score of each candidate under one member.

    `scores` are the member's full rows for the users (seen items at -inf);
    `items` the (n_users, N) candidates, -1 for empty slots.
    """
    finite = np.isfinite(scores)
    filled = np.where(finite, scores, np.nan)
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(filled, axis=1, keepdims=True)
        std = np.nanstd(filled, axis=1, keepdims=True)
    order = np.argsort(-np.where(finite, scores, -np.inf), axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(scores.shape[1])[None, :].repeat(len(scores), 0), axis=1)
    safe = np.maximum(items, 0)
    value = np.take_along_axis(scores, safe, axis=1).astype(np.float64)
    value[~np.isfinite(value)] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (value - mean) / np.where(std > 0, std, 1.0)
    return {
        f"{prefix}_score": value.ravel(),
        f"{prefix}_rank": np.take_along_axis(ranks, safe, axis=1).ravel().astype(np.float64),
        f"{prefix}_z": z.ravel(),
    }


def pair_frame(
    users: np.ndarray,
    items: np.ndarray,
    history: sp.csr_matrix,
    stats: HistoryStats,
    features: EncodedFeatures | None,
    member_scores: dict[str, np.ndarray],
) -> pd.DataFrame:
    """One row per (user, candidate), users in blocks of N rows (CatBoost's groups).

    Parameters
    ----------
    users : (n,) user indices.
    items : (n, N) candidate item indices; -1 slots are kept (the caller drops them).
    history : users x items matrix the stats were computed from.
    member_scores : member name -> (n, n_items) scores with the history masked.
    """
    n, width = items.shape
    us = np.repeat(users, width)
    its = items.ravel()
    safe = np.maximum(its, 0)
    columns: dict[str, np.ndarray] = {USER_ID: us, ITEM_ID: its}
    for name, scores in member_scores.items():
        columns |= member_columns(scores, items, name)
    for name, values in stats.item.items():
        columns[name] = values[safe]
    for name, values in stats.user.items():
        columns[name] = values[us]
    rows = history[users]
    norms = np.maximum(np.diff(rows.indptr), 1).astype(np.float32)
    knn = (rows @ stats.cosine).toarray()
    columns["knn_score"] = (np.take_along_axis(knn, np.maximum(items, 0), axis=1) / norms[:, None]).ravel()
    if stats.transitions is not None:
        for m, last in stats.last_items.items():
            recent = last[users]
            following = np.asarray((recent @ stats.transitions).todense())
            count = np.maximum(np.diff(recent.indptr), 1).astype(np.float32)
            columns[f"next_after_last{m}"] = (np.take_along_axis(following, safe.reshape(n, width), axis=1)
                                              / count[:, None]).ravel()
    if stats.item_first is not None and stats.user_last is not None:
        columns["item_first_minus_user_last_days"] = _days(stats.item_first[safe] - stats.user_last[us])
        columns["item_pop_around_user_last"] = _around(stats, safe, stats.user_last[us])
    if features is not None:
        for name, fld in features.item_fields.items():
            columns[f"overlap_{name}"] = _overlap(stats.profiles[name], fld.matrix, us, safe)
            if f"item_{name}" in stats.item and f"user_mean_{name}" in stats.user:
                columns[f"diff_{name}"] = np.abs(columns[f"item_{name}"] - columns[f"user_mean_{name}"])
    return pd.DataFrame(columns)


def categorical_columns(frame: pd.DataFrame) -> list[str]:
    """Columns CatBoost should treat as categories: ids and one-hot user fields."""
    ids = [c for c in (USER_ID, ITEM_ID) if c in frame.columns]
    fields = [c for c in frame.columns if c.startswith("user_") and frame[c].dtype.kind == "i" and c not in ids]
    return ids + fields


def _overlap(profiles: sp.csr_matrix, values: sp.csr_matrix, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Share of the user's history sharing the item's values, averaged over the item's values."""
    item_rows = values[items]
    both = profiles[users].multiply(item_rows)
    per_item = np.maximum(np.diff(item_rows.indptr), 1)
    return np.asarray(both.sum(axis=1)).ravel() / per_item


def _around(stats: HistoryStats, items: np.ndarray, moments: np.ndarray) -> np.ndarray:
    """Share of the interactions within +-window of each moment that went to each item.

    What other people watched around the time a user was last active predicts what
    that user watches next far better than all-time popularity (catalogues and
    fashions move; ml-100k users rate in sessions).
    """
    lo, hi = moments - stats.window, moments + stats.window
    base = items.astype(np.int64) << 32
    count = np.searchsorted(stats.item_time_keys, base + _clock(hi), side="right") - np.searchsorted(
        stats.item_time_keys, base + _clock(lo), side="left"
    )
    total = np.searchsorted(stats.time_sorted, hi, side="right") - np.searchsorted(stats.time_sorted, lo, side="left")
    return count / np.maximum(total, 1)


def _clock(seconds: np.ndarray) -> np.ndarray:
    """Seconds as int64 clipped to [0, 2^32): the low half of the (item, time) keys."""
    values = np.nan_to_num(np.asarray(seconds, dtype=np.float64), nan=0.0, posinf=2**32 - 1, neginf=0.0)
    return np.clip(values, 0, 2**32 - 1).astype(np.int64)


def _days(seconds: np.ndarray) -> np.ndarray:
    out = np.asarray(seconds, dtype=np.float64) / DAY
    out[~np.isfinite(out)] = np.nan
    return out
