"""EASE: a closed-form item-item linear autoencoder.

Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019.
Objective: min_B ||X - XB||^2 + lambda ||B||^2 subject to diag(B) = 0, solved by
P = (X^T X + lambda I)^{-1}, B = -P / diag(P), diag(B) = 0.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from movierec.data.encoded import EncodedFeatures
from movierec.exceptions import DataError
from movierec.models.base import Recommender, check_matrix


def gram(X: sp.csr_matrix) -> np.ndarray:
    """X^T X as a dense float32 (n_items, n_items) array."""
    return np.asarray((X.T @ X).toarray(), dtype=np.float32)


def inverse_spd(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix through Cholesky (potrf + potri).

    About a third of the flops of a general LU inverse; overwrites `matrix`.
    """
    factor, info = lapack.spotrf(matrix, lower=False, clean=False, overwrite_a=True)
    if info != 0:
        raise DataError(f"Gram matrix is not positive definite (potrf info={info}); increase l2")
    inverse, info = lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise DataError(f"Cholesky inverse failed (potri info={info})")
    # potri fills the upper triangle only; mirror it
    lower = np.tril_indices_from(inverse, k=-1)
    inverse[lower] = inverse.T[lower]
    return inverse


def ease_weights(G: np.ndarray, l2: float) -> np.ndarray:
    """B from the Gram matrix `G` (copied, not modified)."""
    P = G.astype(np.float32, copy=True)
    P[np.diag_indices_from(P)] += np.float32(l2)
    P = inverse_spd(P)
    diag = np.diag(P).copy()
    P /= -diag[np.newaxis, :]
    np.fill_diagonal(P, 0.0)
    return P


class EASE(Recommender):
    """EASE (Steck 2019) with L2 weight `l2` (lambda), float32 throughout.

    Scoring is ``X[users] @ B``; :meth:`score_history` folds in a user unseen at fit
    time from their history alone.

    Examples
    --------
    >>> X = sp.random(50, 20, density=0.2, format="csr", random_state=0, dtype=np.float32)
    >>> X.data[:] = 1
    >>> EASE(l2=10.0).fit(X).recommend(np.array([0, 1]), k=3)[0].shape
    (2, 3)
    """

    name = "ease"
    param_grid = {"l2": [50.0, 100.0, 200.0, 300.0, 400.0, 500.0, 700.0, 900.0, 1200.0]}

    def __init__(self, *, l2: float = 300.0) -> None:
        self.l2 = l2

    def fit(self, X: sp.csr_matrix, *, features: EncodedFeatures | None = None,
            valid: sp.csr_matrix | None = None) -> "EASE":
        if self.l2 <= 0:
            raise DataError(f"EASE needs l2 > 0, got {self.l2}")
        self.X_ = check_matrix(X)
        self.B_ = ease_weights(gram(self.X_), self.l2)
        return self

    def _score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self.X_[users] @ self.B_)

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        """Scores for users given only their histories (rows of a (n, n_items) matrix)."""
        self._check_fitted()
        if history.shape[1] != self.B_.shape[0]:
            raise DataError(f"history has {history.shape[1]} item columns, model has {self.B_.shape[0]}")
        return np.asarray(sp.csr_matrix(history, dtype=np.float32) @ self.B_)
