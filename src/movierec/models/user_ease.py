"""User-user EASE and the item+user hybrid: EASE's closed form on the users x users Gram matrix.

Item EASE reconstructs a user's row from other items (``X B``); user EASE reconstructs
it from other users' rows (``C X``): ``min_C ||X - C X||^2 + lambda ||C||^2`` with
``diag(C) = 0``, the same problem on ``X^T``, so with ``P = (X X^T + lambda I)^-1``,
``C = -P / diag(P)`` row-wise and ``diag(C) = 0``. It costs an n_users^3 inverse and an
n_users^2 matrix, so it is for catalogues where users are few (`max_users` guards the
memory). Both models reconstruct X, so their scores share a scale and the hybrid adds
them: ``(1 - user_weight) X B + user_weight C X``, tuned on validation like EASE.
The combination of item and user EASE was part of the competition's winning blend.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from movierec.checks import is_positive_finite
from movierec.data.encoded import EncodedFeatures
from movierec.exceptions import ConfigError
from movierec.models.base import Recommender
from movierec.models.ease import EASE, gram, spd_inverse
from movierec.models.products import history_times
from movierec.models.space import FloatRange

MAX_USERS = 40_000  # 40,000^2 float32 is 6.4 GB, before the inverse's temporaries


def user_weights(X: sp.csr_matrix, l2: float) -> np.ndarray:
    """C (users x users, float32, zero diagonal) of user EASE on `X`."""
    P = gram(sp.csr_matrix(X.T))  # X X^T: the Gram matrix of the users
    P[np.diag_indices_from(P)] += np.float32(l2)
    spd_inverse(P)
    P /= -np.diag(P)[:, np.newaxis]
    np.fill_diagonal(P, 0.0)
    return P


class UserEASE(Recommender):
    """User-user EASE (name ``"userease"``): a user's scores are other users' rows, weighted.

    Parameters
    ----------
    l2 : ridge weight lambda (> 0).
    max_users : refuse training matrices with more users (the users^2 matrix would not fit).

    Examples
    --------
    >>> X = sp.random(40, 20, density=0.3, format="csr", random_state=0, dtype=np.float32)
    >>> X.data[:] = 1
    >>> UserEASE(l2=10.0).fit(X).recommend(np.array([0, 1]), k=3)[0].shape
    (2, 3)
    """

    name = "userease"
    param_grid = {"l2": [10.0, 30.0, 100.0, 300.0, 1000.0]}
    search_space = {"l2": FloatRange(1.0, 3000.0, log=True)}

    def __init__(self, *, l2: float = 100.0, max_users: int = MAX_USERS) -> None:
        self.l2 = l2
        self.max_users = max_users

    def _check_params(self) -> None:
        if not is_positive_finite(self.l2):
            raise ConfigError(f"userease needs a finite l2 > 0, got {self.l2}")

    def _fit(self, X: sp.csr_matrix, *, features: EncodedFeatures | None, valid: sp.csr_matrix | None,
             timestamps: sp.csr_matrix | None) -> None:
        if X.shape[0] > self.max_users:
            raise ConfigError(f"userease on {X.shape[0]} users needs a {X.shape[0]}^2 matrix; it is bounded by "
                              f"max_users={self.max_users} (raise it if the memory is there, or use ease)")
        self.C_ = user_weights(X, self.l2)
        self.items_by_user_ = sp.csr_matrix(X.T)  # C[users] @ X as a sparse x dense product

    def _score(self, users: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(history_times(self.items_by_user_, np.ascontiguousarray(self.C_[users].T)).T)


class HybridEASE(Recommender):
    """Item EASE and user EASE added (name ``"hybridease"``), their shares tuned on validation.

    Parameters
    ----------
    l2 : item EASE's lambda; user_l2 : user EASE's.
    user_weight : share of user EASE in ``(1 - w) X B + w C X`` (0: item EASE alone).
    max_users : as for :class:`UserEASE`.
    """

    name = "hybridease"
    param_grid = {"l2": [200.0, 300.0, 500.0], "user_l2": [30.0, 100.0, 300.0],
                  "user_weight": [0.25, 0.5, 0.75]}
    search_space = {"l2": FloatRange(10.0, 5000.0, log=True), "user_l2": FloatRange(1.0, 3000.0, log=True),
                    "user_weight": FloatRange(0.0, 1.0)}

    def __init__(self, *, l2: float = 300.0, user_l2: float = 100.0, user_weight: float = 0.5,
                 max_users: int = MAX_USERS) -> None:
        self.l2 = l2
        self.user_l2 = user_l2
        self.user_weight = user_weight
        self.max_users = max_users

    def _check_params(self) -> None:
        if not (is_positive_finite(self.l2) and is_positive_finite(self.user_l2) and 0.0 <= self.user_weight <= 1.0):
            raise ConfigError(f"hybridease needs finite l2 > 0, user_l2 > 0 and user_weight in [0, 1]; got {self.l2}, "
                              f"{self.user_l2}, {self.user_weight}")

    def _fit(self, X: sp.csr_matrix, *, features: EncodedFeatures | None, valid: sp.csr_matrix | None,
             timestamps: sp.csr_matrix | None) -> None:
        self.items_model_ = EASE(l2=self.l2).fit(X)
        self.users_model_ = UserEASE(l2=self.user_l2, max_users=self.max_users).fit(X)

    def _score(self, users: np.ndarray) -> np.ndarray:
        scores = self.items_model_.score(users)
        scores *= np.float32(1.0 - self.user_weight)
        scores += np.float32(self.user_weight) * self.users_model_.score(users)
        return scores
