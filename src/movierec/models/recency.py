"""Recency-weighted histories: a user's latest items count more when scoring.

Item-item models (EASE, item-kNN) score a user by summing the rows of every item in
the history alike, so the film watched yesterday weighs as much as one from a year
ago. When what is hidden is the *next* items of a sequence (leave-last-k), the last
items predict far better. Weighting the history by its order,

    w = floor + (1 - floor) * decay ** r,   r = number of the user's items watched later,

keeps the fitted model unchanged and only changes which rows of it are summed.
`decay = 1` (or equal timestamps everywhere) gives back the plain binary history.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from movierec.data.interactions import aligned_timestamps
from movierec.exceptions import ConfigError


def check_recency(decay: float, floor: float) -> None:
    if not 0.0 < decay <= 1.0:
        raise ConfigError(f"recency_decay must lie in (0, 1], got {decay}")
    if not 0.0 <= floor <= 1.0:
        raise ConfigError(f"recency_floor must lie in [0, 1], got {floor}")


def steps_from_last(X: sp.csr_matrix, times: np.ndarray) -> np.ndarray:
    """For each stored entry of `X`, how many of its user's entries are strictly later.

    `times` is parallel to ``X.data``. Entries with equal timestamps share a step, so an
    arbitrary order among items rated in the same second never changes the weights.
    """
    n_rows = X.shape[0]
    rows = np.repeat(np.arange(n_rows), np.diff(X.indptr))
    order = _latest_first(rows, times)
    sorted_rows, sorted_times = rows[order], times[order]
    position = np.arange(len(order))
    starts_group = np.ones(len(order), dtype=bool)
    starts_group[1:] = (sorted_rows[1:] != sorted_rows[:-1]) | (sorted_times[1:] != sorted_times[:-1])
    group_start = np.maximum.accumulate(np.where(starts_group, position, 0))
    steps = np.empty(len(order), dtype=np.int64)
    steps[order] = group_start - X.indptr[sorted_rows]
    return steps


def _latest_first(rows: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The stable order by (row, latest time first): ``np.lexsort((-times, rows))``, as
    one argsort of an int64 key where the times are float64 whole seconds (the usual
    case) whose span keeps every difference exact and the key inside int64."""
    if len(times) and times.dtype == np.float64:
        earliest, latest = float(times.min()), float(times.max())
        span = latest - earliest + 1
        if np.isfinite(span) and span <= 2.0 ** 53 and span * (int(rows.max()) + 1) < 2.0 ** 62 \
                and (times == np.floor(times)).all():
            return np.argsort(rows * np.int64(span) + (latest - times).astype(np.int64), kind="stable")
    return np.lexsort((-times, rows))


def recency_weighted(X: sp.csr_matrix, timestamps: sp.csr_matrix | None, *, decay: float,
                     floor: float = 0.0) -> sp.csr_matrix:
    """`X` with each entry weighted by its recency within the user's history (float32).

    Parameters
    ----------
    X : binary users x items history, sorted indices.
    timestamps : same non-zeros as `X` (seconds); None returns `X` unchanged, since
        without times there is no order to weight by.
    decay, floor : see the module docstring.

    Examples
    --------
    >>> X = sp.csr_matrix(np.array([[1, 1, 1]], dtype=np.float32))
    >>> T = sp.csr_matrix(np.array([[30.0, 10.0, 20.0]]))
    >>> recency_weighted(X, T, decay=0.5).toarray()
    array([[1.  , 0.25, 0.5 ]], dtype=float32)
    """
    check_recency(decay, floor)
    times = aligned_timestamps(X, timestamps)
    if times is None or decay == 1.0 or floor == 1.0:
        return X
    weights = floor + (1.0 - floor) * np.power(decay, steps_from_last(X, times), dtype=np.float64)
    weighted = X.copy()
    weighted.data = (X.data * weights).astype(np.float32)
    return weighted
