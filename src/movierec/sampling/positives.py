"""Positive (user, item) pairs per epoch, optionally resampled toward balanced users.

Heavy users dominate the positives of an interaction matrix (on ml-100k the top 10%
of users hold about a third of them), so a model trained on every positive once
learns mostly their taste, while light users contribute few positives and are seen
by the loss mostly as the owners of negatives. :class:`PositiveSampler` can draw each
user's positives ``n_u ** (1 - balance)`` times (rescaled so an epoch keeps its
size): ``balance = 0`` is the plain epoch, ``balance = 1`` gives every user the same
number of positive draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.exceptions import ConfigError, DataError


def positive_pairs(X: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """All (user, item) non-zeros of `X` as two int64 arrays, in CSR order."""
    X = sp.csr_matrix(X)
    users = np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(X.indptr))
    return users, X.indices.astype(np.int64)


@dataclass
class PositiveSampler:
    """Draws one epoch of positive pairs from `X`, shuffled.

    Parameters
    ----------
    X : csr_matrix (n_users, n_items) of positives.
    balance : 0 keeps every positive once; in (0, 1] resamples positives per user
        with replacement so user u gets about ``c * n_u ** (1 - balance)`` draws,
        ``c`` chosen so the epoch has ``nnz(X)`` pairs.

    Examples
    --------
    >>> X = sp.csr_matrix(np.array([[1, 1, 1, 1], [0, 0, 1, 0]], dtype=np.float32))
    >>> users, items = PositiveSampler(X, balance=1.0).epoch(np.random.default_rng(0))
    >>> np.bincount(users).tolist()
    [2, 2]
    """

    X: sp.csr_matrix
    balance: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.balance <= 1.0:
            raise ConfigError(f"positive balance must lie in [0, 1], got {self.balance}")
        self.X = sp.csr_matrix(self.X)
        self.users, self.items = positive_pairs(self.X)
        if not len(self.users):
            raise DataError("no positive interactions to train on")
        counts = np.diff(self.X.indptr).astype(np.float64)
        active = counts > 0
        draws = np.zeros_like(counts)
        draws[active] = counts[active] ** (1.0 - self.balance)
        draws *= counts.sum() / draws.sum()
        self.draws_per_user = np.where(active, np.maximum(np.rint(draws), 1), 0).astype(np.int64)

    def __len__(self) -> int:
        return int(self.draws_per_user.sum()) if self.balance > 0 else len(self.users)

    def epoch(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(users, items) of one epoch, in random order."""
        if self.balance == 0:
            order = rng.permutation(len(self.users))
            return self.users[order], self.items[order]
        counts = np.diff(self.X.indptr)
        users = np.repeat(np.arange(len(counts), dtype=np.int64), self.draws_per_user)
        offsets = rng.integers(0, np.iinfo(np.int64).max, size=len(users)) % counts[users]
        items = self.X.indices[self.X.indptr[users] + offsets].astype(np.int64)
        order = rng.permutation(len(users))
        return users[order], items[order]


def oversample_positives(frame: pd.DataFrame, labels: np.ndarray, times: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Repeat every positive row `times` times in place (groups stay contiguous)."""
    if times < 1:
        raise ConfigError(f"positive oversampling factor must be >= 1, got {times}")
    if times == 1:
        return frame, labels
    rows = np.repeat(np.arange(len(frame)), np.where(labels, times, 1))
    return frame.iloc[rows].reset_index(drop=True), labels[rows]
