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

``embedding_bag`` takes its fast kernel only on a contiguous table, so a strided
column block of B runs markedly slower than the same block copied. A ranking scores
every user a batch at a time, so `HistoryProduct` (the item-item models' scorer)
copies B's column blocks at its second batch and sums every later batch from the
copies: one more items x items matrix for the ranking's duration, made only below
`BLOCK_COPY_BYTES`. The sums are the same, bit for bit, either way.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

COLUMN_BLOCK = 256  # columns of B per pass over a strided view: the fastest of 32-1024 on a 2-core SkylakeX
COPIED_BLOCK = 64  # columns per contiguous copied block (1.7 MB at 6,807 items: an L2 cache)
DENSE_DENSITY = 0.05  # above this share of non-zeros, a dense GEMM does less work than the sparse sums
SMALL_BATCH = 32  # fewer rows than this (a served request) read few rows of B: scipy's product directly
BLOCK_COPY_BYTES = 2**30  # B up to this size is copied into contiguous column blocks for a ranking


def history_times(rows: sp.csr_matrix, B: np.ndarray, blocks: list[torch.Tensor] | None = None) -> np.ndarray:
    """``rows @ B`` as a dense (n_rows, B.shape[1]) array of B's dtype.

    `rows` is a sparse matrix (weighted histories allowed), `B` a dense float matrix
    with as many rows as `rows` has columns; `blocks` are B's `column_blocks` where the
    caller keeps them (the sums are the same, faster).
    """
    rows = sp.csr_matrix(rows)
    path = product_path(rows)
    if path == "scipy":
        return np.asarray(rows @ B, dtype=B.dtype)
    if path == "dense":
        return rows.toarray().astype(B.dtype, copy=False) @ B
    if blocks is None:
        table = _table(B)
        blocks = [table[:, start:start + COLUMN_BLOCK] for start in range(0, B.shape[1], COLUMN_BLOCK)]
    indices = torch.from_numpy(rows.indices.astype(np.int64))
    offsets = torch.from_numpy(rows.indptr[:-1].astype(np.int64))
    weights = torch.from_numpy(rows.data.astype(B.dtype, copy=False))
    with torch.inference_mode():
        sums = [F.embedding_bag(indices, block, offsets, mode="sum", per_sample_weights=weights) for block in blocks]
        return torch.cat(sums, dim=1).numpy()


def product_path(rows: sp.csr_matrix) -> str:
    """How `history_times` multiplies `rows`: "scipy" (a few rows), "dense" (a GEMM) or "sparse" (row sums)."""
    if rows.shape[0] < SMALL_BATCH:
        return "scipy"
    return "dense" if rows.nnz > DENSE_DENSITY * rows.shape[0] * rows.shape[1] else "sparse"


def column_blocks(B: np.ndarray) -> list[torch.Tensor]:
    """B's columns as contiguous blocks of `COPIED_BLOCK` columns (together, a copy of B)."""
    table = _table(B)
    with torch.inference_mode():
        return [table[:, start:start + COPIED_BLOCK].contiguous() for start in range(0, B.shape[1], COPIED_BLOCK)]


def _table(B: np.ndarray) -> torch.Tensor:
    with warnings.catch_warnings():  # B may be read-only (a shared fit); it is only read here
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(B)


def scores_over(rows: sp.csr_matrix, B: np.ndarray, columns: np.ndarray | None,
                blocks: list[torch.Tensor] | None = None) -> np.ndarray:
    """``rows @ B`` over every item: B's columns stand for the items `columns` (ascending;
    None: every item), the other items score -inf. `rows` are users x items histories."""
    rows = sp.csr_matrix(rows)
    if columns is None:
        return history_times(rows, B, blocks)
    scores = np.full(rows.shape, -np.inf, dtype=np.float32)
    scores[:, columns] = history_times(rows[:, columns], B, blocks)
    return scores


class HistoryProduct:
    """The score function of an item-item model for a ranking: ``rows_of(users) @ B``.

    Scores as `scores_over`. From its second batch summed sparsely on (so a ranking of
    one batch never pays for the copy), it sums from B's contiguous `column_blocks`,
    copied once where B is at most `BLOCK_COPY_BYTES`; the copy lives as long as this
    object, one ranking.
    """

    def __init__(self, rows_of: Callable[[np.ndarray], sp.csr_matrix], B: np.ndarray,
                 columns: np.ndarray | None = None) -> None:
        self.rows_of = rows_of
        self.B = B
        self.columns = columns
        self._blocks: list[torch.Tensor] | None = None
        self._sparse_batches = 0

    def __call__(self, users: np.ndarray) -> np.ndarray:
        rows = sp.csr_matrix(self.rows_of(users))
        if self._blocks is None and self.B.nbytes <= BLOCK_COPY_BYTES:
            fitted = rows if self.columns is None else rows[:, self.columns]
            self._sparse_batches += product_path(fitted) == "sparse"
            if self._sparse_batches >= 2:
                self._blocks = column_blocks(self.B)
        return scores_over(rows, self.B, self.columns, self._blocks)
