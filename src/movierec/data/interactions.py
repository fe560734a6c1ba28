"""Interactions as the users x items CSR matrix `X` that every model consumes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.data.idmap import IdMap
from movierec.exceptions import DataError


def sorted_by(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """`frame` in the stable order of `columns`, itself where it is in that order already.

    Readers' files and the split's parts usually are: for integer columns one linear
    check spares a sort of millions of rows, and the sort, where needed, is numpy's
    stable `lexsort` (the order pandas' stable multi-column sort gives). Other columns
    (text ids) go through pandas.
    """
    if not all(pd.api.types.is_integer_dtype(frame[column]) for column in columns):
        return frame.sort_values(columns, kind="stable")
    keys = [frame[column].to_numpy(np.int64) for column in columns]
    tied = np.ones(max(len(frame) - 1, 0), dtype=bool)  # rows equal to the next in every column so far
    for position, key in enumerate(keys):
        later, earlier = key[1:], key[:-1]  # compared, not subtracted: boolean passes, no int64 difference
        if (tied & (later < earlier)).any():
            return frame.take(_order_within_ties(keys[position:], tied))
        tied &= later == earlier
    return frame


def _order_within_ties(keys: list[np.ndarray], tied: np.ndarray) -> np.ndarray:
    """The stable order by `keys` within runs of rows already in order by the columns before.

    `tied[i]` says row i equals row i + 1 in those columns. Runs are numbered in
    order, so (run, keys) sorts as the whole lexsort would; with one key left, run
    and key fit one int64 and one stable argsort does it, far cheaper than a lexsort
    of every key over millions of rows (docs/results.md).
    """
    run = np.concatenate([[0], np.cumsum(~tied)])
    if len(keys) == 1:
        key = keys[0] - keys[0].min()
        span = int(key.max()) + 1
        if int(run[-1]) * span < 2 ** 62:
            return np.argsort(run * span + key, kind="stable")
    return np.lexsort([*keys[::-1], run])


def to_csr(frame: pd.DataFrame, idmap: IdMap) -> sp.csr_matrix:
    """Binary float32 users x items matrix of the (user, item) rows of `frame`.

    Shape is always (idmap.n_users, idmap.n_items), so matrices of train, valid and
    test line up. Duplicates count once.
    """
    rows = idmap.user_index(frame["user"])
    cols = idmap.item_index(frame["item"])
    return csr_from_indices(rows, cols, (idmap.n_users, idmap.n_items))


def csr_from_indices(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """Binary float32 CSR with a one at each (row, col); repeated pairs count once."""
    X = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape)
    X.sum_duplicates()
    X.data[:] = 1.0
    return X


def users_with_items(X: sp.csr_matrix) -> np.ndarray:
    """Indices of the rows of `X` that hold at least one item."""
    return np.flatnonzero(np.diff(X.indptr) > 0)


def timestamps_csr(frame: pd.DataFrame, idmap: IdMap) -> sp.csr_matrix:
    """float64 seconds with exactly the non-zeros of ``to_csr(frame, idmap)``.

    A repeated (user, item) keeps its earliest time, so time features see when an item
    was first watched. Models that use time take it as ``fit(..., timestamps=)``.
    """
    return timestamps_from_indices(idmap.user_index(frame["user"]), idmap.item_index(frame["item"]),
                                   frame["timestamp"].to_numpy(dtype=np.float64), (idmap.n_users, idmap.n_items))


def timestamps_from_indices(rows: np.ndarray, cols: np.ndarray, seconds: np.ndarray,
                            shape: tuple[int, int]) -> sp.csr_matrix:
    """`timestamps_csr` from encoded (row, col, seconds) triples: one integer sort of
    the pairs, a second one by time only where some pair repeats."""
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    seconds = np.asarray(seconds, dtype=np.float64)
    pair = rows * shape[1] + cols
    order = np.argsort(pair, kind="stable")
    first = np.ones(len(order), dtype=bool)
    np.not_equal(pair[order[1:]], pair[order[:-1]], out=first[1:])
    if not first.all():  # the earliest time of each repeated pair first
        order = np.lexsort((seconds, pair))
        np.not_equal(pair[order[1:]], pair[order[:-1]], out=first[1:])
    kept = order[first]
    index_dtype = np.int32 if max(shape[1], len(kept)) < 2 ** 31 else np.int64  # as scipy picks
    indptr = np.zeros(shape[0] + 1, dtype=index_dtype)
    np.cumsum(np.bincount(rows[kept], minlength=shape[0]), out=indptr[1:])
    # explicit zeros (data without time) stay stored, so the pattern still equals X's
    return sp.csr_matrix((seconds[kept], cols[kept].astype(index_dtype), indptr), shape=shape)


def aligned_timestamps(X: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> np.ndarray | None:
    """Timestamps as an array parallel to ``X.data`` (X with sorted indices), or None.

    Raises
    ------
    DataError
        When `timestamps` has another shape or another sparsity pattern than `X`.
    """
    if timestamps is None:
        return None
    T = sp.csr_matrix(timestamps, dtype=np.float64)
    T.sort_indices()
    if T.shape != X.shape or T.nnz != X.nnz or not np.array_equal(T.indices, X.indices) \
            or not np.array_equal(T.indptr, X.indptr):
        raise DataError(
            f"timestamps must have exactly the non-zeros of X (shape {X.shape}, nnz {X.nnz}); "
            f"got shape {T.shape}, nnz {T.nnz}. Build both from the same interaction rows."
        )
    return T.data
