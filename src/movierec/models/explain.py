"""The one history row a model's `contributions` explain (the `ExplainsScores` protocol)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from movierec.exceptions import ConfigError, DataError
from movierec.models.base import Recommender, check_history


def explained_row(model: Recommender, *, user: int | None, history: sp.spmatrix | None, fitted_rows: sp.csr_matrix,
                  fold_in: Callable[[sp.csr_matrix], sp.csr_matrix]) -> sp.csr_matrix:
    """A fitted `user`'s row of `fitted_rows`, or a one-row `history` passed through
    `fold_in` (e.g. its recency weighting), without explicit zeros.

    Raises
    ------
    ConfigError
        Neither or both of `user` and `history` given.
    DataError
        `history` is not one row of the model's items, or `user` is not a fitted user's index.
    """
    model._check_fitted()
    if (user is None) == (history is None):
        raise ConfigError("contributions explain one user: give user (an index) or history (one row)")
    if user is not None:
        row = sp.csr_matrix(fitted_rows[model._check_users(np.array([user]))])
    else:
        row = sp.csr_matrix(fold_in(check_history(model, history)))
    if row.shape[0] != 1:
        raise DataError(f"contributions explain one user's row; the history has {row.shape[0]} rows")
    row.eliminate_zeros()
    return row
