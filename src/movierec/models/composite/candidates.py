"""How many hidden items survive candidate generation, and which candidates are hidden items.

A reranker can only reorder what its candidate generator proposes (its candidates:
:meth:`movierec.models.composite.reranker.Reranker.candidates`), so the share of hidden
items that survive into the candidate lists (the *candidate recall*) caps what the
second stage can reach; :func:`candidate_recall` measures it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def candidate_recall(candidates: np.ndarray, truth: sp.csr_matrix, users: np.ndarray) -> float:
    """Share of the hidden items of `users` that appear in their candidate lists.

    ``candidates[r]`` is the list of ``users[r]``. Micro-averaged: hidden items found /
    hidden items.

    Examples
    --------
    >>> truth = sp.csr_matrix(np.array([[0, 1, 1], [1, 0, 0]], dtype=np.float32))
    >>> candidate_recall(np.array([[1, 0], [2, 1]]), truth, np.array([0, 1]))
    0.3333333333333333
    """
    truth_rows = sp.csr_matrix(truth[users])
    n_hidden = truth_rows.nnz
    if n_hidden == 0:
        return 0.0
    return float(label_pairs(truth_rows, candidates).sum() / n_hidden)


def label_pairs(truth_rows: sp.csr_matrix, candidates: np.ndarray) -> np.ndarray:
    """Boolean (n, N): is ``candidates[r, j]`` among the non-zeros of ``truth_rows[r]``."""
    n, width = candidates.shape
    rows = np.repeat(np.arange(n), width)
    cols = candidates.ravel()
    known = cols >= 0
    found = np.zeros(n * width, dtype=bool)
    found[known] = np.asarray(truth_rows[rows[known], cols[known]]).ravel() != 0
    return found.reshape(n, width)
