"""DLAE: EASE's linear autoencoder regularised by dropout instead of a zero diagonal.

Steck, "Autoencoders that don't overfit towards the Identity", NeurIPS 2020.
Dropping each input item with probability p during training is, in expectation, an
item-specific L2 penalty ``Lambda = l2 + p / (1 - p) * diag(X^T X)``; the minimiser is

    B = (X^T X + Lambda)^-1 X^T X = I - P Lambda,    P = (X^T X + Lambda)^-1.

Popular items are penalised more, and the diagonal is left free (it stays small because
dropout makes copying an item's own input unreliable). As a differently regularised
model it adds some variety to ensembles and reranker features.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from movierec.checks import is_positive_finite
from movierec.data.encoded import EncodedFeatures
from movierec.exceptions import ConfigError
from movierec.models.ease import GRAM_CACHE, ItemItemModel, spd_inverse
from movierec.models.recency import check_recency
from movierec.models.space import FloatRange


def dlae_weights(G: np.ndarray, l2: float, dropout: float) -> np.ndarray:
    """B = I - P Lambda from the Gram matrix `G` (left unchanged), float32."""
    penalty = (np.float32(l2) + np.float32(dropout / (1.0 - dropout)) * np.diag(G)).astype(np.float32)
    P = G.astype(np.float32, copy=True)
    P[np.diag_indices_from(P)] += penalty
    spd_inverse(P)
    P *= -penalty[np.newaxis, :]
    P[np.diag_indices_from(P)] += 1.0
    return P


class DLAE(ItemItemModel):
    """Dropout linear autoencoder (name ``"dlae"``), closed form like EASE.

    Parameters
    ----------
    l2 : item-independent ridge weight (> 0: it keeps items without interactions solvable).
    dropout : input dropout probability p in [0, 1); p / (1 - p) scales each item's
        own count into its penalty.
    recency_decay, recency_floor : score a recency-weighted history, as in EASE.

    Examples
    --------
    >>> X = sp.random(50, 20, density=0.2, format="csr", random_state=0, dtype=np.float32)
    >>> X.data[:] = 1
    >>> DLAE(l2=10.0, dropout=0.5).fit(X).recommend(np.array([0, 1]), k=3)[0].shape
    (2, 3)
    """

    name = "dlae"
    param_grid = {"l2": [50.0, 150.0, 300.0, 500.0], "dropout": [0.25, 0.5, 0.7]}
    search_space = {"l2": FloatRange(10.0, 3000.0, log=True), "dropout": FloatRange(0.05, 0.85)}

    def __init__(self, *, l2: float = 150.0, dropout: float = 0.5, recency_decay: float = 1.0,
                 recency_floor: float = 0.0) -> None:
        self.l2 = l2
        self.dropout = dropout
        self.recency_decay = recency_decay
        self.recency_floor = recency_floor

    def _check_params(self) -> None:
        if not is_positive_finite(self.l2) or not 0.0 <= self.dropout < 1.0:  # NaN fails both
            raise ConfigError(f"dlae needs a finite l2 > 0 and dropout in [0, 1), got l2={self.l2}, "
                              f"dropout={self.dropout}")
        check_recency(self.recency_decay, self.recency_floor)

    def _fit(self, X: sp.csr_matrix, *, features: EncodedFeatures | None, valid: sp.csr_matrix | None,
             timestamps: sp.csr_matrix | None) -> None:
        self.B_ = dlae_weights(GRAM_CACHE.get(X, X, None), self.l2, self.dropout)
        self.history_ = self._weighted(X, timestamps)
