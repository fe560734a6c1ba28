"""``history @ B``: the scoring product of the item-item models (EASE, DLAE, user EASE).

A batch of sparse histories times a dense items x items matrix. Each non-zero adds a
row of B to its user's scores, so the work is memory traffic, not flops: at 6,807
items one row of B is 27 KB, and a batch of 1,024 users with 130 items each would
stream 3.6 GB through the caches if it went row by row over whole rows (scipy's
sparse x dense product does, on one thread). Instead B is taken a block of
`COLUMN_BLOCK` columns at a time, small enough (7 MB at 6,807 items) that the block
stays in the caches while every history of the batch sums its rows, through
torch's ``embedding_bag`` (a weighted sum of table rows per bag, on every core torch
is given). Speed against the former scipy path: docs/results.md, "Speed and memory".
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

COLUMN_BLOCK = 256  # columns of B per pass: the fastest of 32-1024 at 6,807 and 26,744 items on a 2-core SkylakeX
DENSE_DENSITY = 0.05  # above this share of non-zeros, a dense GEMM does less work than the sparse sums
SMALL_BATCH = 32  # fewer rows than this (a served request) read few rows of B: scipy's product directly


def history_times(rows: sp.csr_matrix, B: np.ndarray) -> np.ndarray:
    """``rows @ B`` as a dense (n_rows, B.shape[1]) array of B's dtype.

    `rows` is a sparse matrix (weighted histories allowed), `B` a dense float matrix
    with as many rows as `rows` has columns.
    """
    rows = sp.csr_matrix(rows)
    n_rows, n_cols = rows.shape[0], B.shape[1]
    if n_rows < SMALL_BATCH:
        return np.asarray(rows @ B, dtype=B.dtype)
    if rows.nnz > DENSE_DENSITY * n_rows * rows.shape[1]:
        return rows.toarray().astype(B.dtype, copy=False) @ B
    with warnings.catch_warnings():  # B may be read-only (a shared fit); it is only read here
        warnings.simplefilter("ignore", UserWarning)
        table = torch.from_numpy(B)
    indices = torch.from_numpy(rows.indices.astype(np.int64))
    offsets = torch.from_numpy(rows.indptr[:-1].astype(np.int64))
    weights = torch.from_numpy(rows.data.astype(B.dtype, copy=False))
    out = torch.empty((n_rows, n_cols), dtype=table.dtype)
    with torch.inference_mode():
        for start in range(0, n_cols, COLUMN_BLOCK):
            block = table[:, start:start + COLUMN_BLOCK]
            out[:, start:start + COLUMN_BLOCK] = F.embedding_bag(indices, block, offsets, mode="sum",
                                                                 per_sample_weights=weights)
    return out.numpy()
