"""Popularity: every user gets the items with the most training interactions."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from movierec.data.encoded import EncodedFeatures
from movierec.models.base import Recommender, check_history
from movierec.ranking import SameRow


class Popularity(Recommender):
    """Score of an item = its number of positives in X (the classic baseline).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> X = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 0]], dtype=np.float32))
    >>> Popularity().fit(X).recommend(np.array([1]), k=1)[0].tolist()
    [[0]]
    """

    name = "pop"

    def __init__(self) -> None:
        pass

    def _fit(self, X: sp.csr_matrix, *, features: EncodedFeatures | None, valid: sp.csr_matrix | None,
             timestamps: sp.csr_matrix | None) -> None:
        self.counts_ = np.asarray(X.sum(axis=0), dtype=np.float32).ravel()

    def _score(self, users: np.ndarray) -> np.ndarray:
        # a real (writable) block, not a read-only broadcast view: callers own the
        # scores they get and may mask them in place
        return np.tile(self.counts_, (len(users), 1))

    def scorer(self) -> SameRow:
        """Every user's scores are the counts: rankings read them off one item order."""
        self._check_fitted()
        return SameRow(self.counts_, self._check_users)

    def score_history(self, history: sp.csr_matrix, timestamps: sp.csr_matrix | None = None) -> np.ndarray:
        """The same counts for every history (popularity ignores who asks)."""
        rows = check_history(self, history)
        return np.tile(self.counts_, (rows.shape[0], 1))
