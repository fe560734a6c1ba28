"""The interface every recommender shares, in the spirit of scikit-learn and `implicit`.

A model is configured by keyword-only hyper-parameters stored unchanged in
``__init__``; `fit` learns state whose names end in ``_``; `score` gives a dense
(n_users, n_items) block; `recommend` does masking and top-k once for all models.
"""

from __future__ import annotations

import inspect
import pickle
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from movierec.atomic import atomic_write_bytes
from movierec.data.encoded import EncodedFeatures
from movierec.exceptions import DataError, NotFittedError
from movierec.ranking import DEFAULT_BATCH, recommend_batched


class Recommender(ABC):
    """Base class: subclasses implement `fit` and `_score`.

    Class attributes
    ----------------
    name : registry name.
    param_grid : hyper-parameter values tried on validation by the pipeline.
    """

    name: ClassVar[str] = ""
    param_grid: ClassVar[dict[str, list[Any]]] = {}

    X_: sp.csr_matrix  # the history the model was fitted on (users x items)

    @abstractmethod
    def fit(
        self,
        X: sp.csr_matrix,
        *,
        features: EncodedFeatures | None = None,
        valid: sp.csr_matrix | None = None,
    ) -> Recommender:
        """Learn from the binary users x items matrix `X`.

        Parameters
        ----------
        X : csr_matrix, shape (n_users, n_items), float32 ones for positives.
        features : side fields aligned with X's rows/columns; models may ignore them.
        valid : held-out positives, same shape, for early stopping; may be ignored. A
            model that also learns from them (the reranker) says so and measures them
            through `score_out_of_fold`.
        """

    @abstractmethod
    def _score(self, users: np.ndarray) -> np.ndarray:
        """Dense scores of shape (len(users), n_items); higher is better."""

    # ---- shared behaviour -------------------------------------------------
    def score(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for `users` (indices), shape (len(users), n_items)."""
        self._check_fitted()
        return self._score(self._check_users(users))

    def score_out_of_fold(self, users: np.ndarray) -> np.ndarray:
        """Scores to measure `users`' validation items with: from parts of the model
        that never learned those items. The same as `score` for every model that takes
        no labels from validation (all but a reranker trained on them); the pipeline
        and the ensemble's weight search read validation through this."""
        return self.score(users)

    def _check_users(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        if users.size and (users.min() < 0 or users.max() >= self.X_.shape[0]):
            raise DataError(f"user indices must lie in [0, {self.X_.shape[0]}); got {users.min()}..{users.max()}")
        return users

    def recommend(
        self,
        users: np.ndarray,
        k: int = 10,
        *,
        exclude_seen: bool = True,
        exclude: sp.csr_matrix | None = None,
        batch_size: int = DEFAULT_BATCH,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k `(items, scores)`, both of shape (len(users), k), best first.

        `exclude` (users x items, all users) overrides the fitted history as the mask.
        """
        self._check_fitted()
        mask = exclude if exclude is not None else (self.X_ if exclude_seen else None)
        return recommend_batched(self.score, np.asarray(users), k, exclude=mask, batch_size=batch_size)

    @property
    def n_items(self) -> int:
        self._check_fitted()
        return self.X_.shape[1]

    def get_params(self) -> dict[str, Any]:
        signature = inspect.signature(type(self).__init__)
        return {name: getattr(self, name) for name in signature.parameters if name != "self"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A model saved before one of its hyper-parameters existed loads with that
        parameter's default (what the code then did), so `get_params` still works."""
        for name, parameter in inspect.signature(type(self).__init__).parameters.items():
            if name != "self" and parameter.default is not inspect.Parameter.empty:
                state.setdefault(name, parameter.default)
        self.__dict__.update(state)

    def with_params(self, **params: Any) -> Recommender:
        """A new, unfitted model with these parameters changed."""
        return type(self)(**(self.get_params() | params))

    def save(self, path: Path | str) -> None:
        """Pickle the fitted model atomically."""
        atomic_write_bytes(Path(path), pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))

    @staticmethod
    def load(path: Path | str) -> Recommender:
        with Path(path).open("rb") as handle:
            model = pickle.load(handle)
        if not isinstance(model, Recommender):
            raise DataError(f"{path}: not a saved movierec model")
        return model

    def _check_fitted(self) -> None:
        if not hasattr(self, "X_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(X) first")

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


@runtime_checkable
class FoldIn(Protocol):
    """Scores users from a history alone, so users unseen at fit time can be served."""

    def score_history(self, history: sp.csr_matrix) -> np.ndarray: ...


@runtime_checkable
class RefitAware(Protocol):
    """Says which parameters to use when refitting without validation (e.g. epochs found)."""

    def refit_params(self) -> dict[str, Any]: ...


def check_matrix(X: sp.spmatrix) -> sp.csr_matrix:
    """X as float32 CSR, or a DataError naming what was found."""
    if not sp.issparse(X) or X.ndim != 2:
        raise DataError(f"X must be a 2-d scipy sparse matrix (users x items), got {type(X).__name__}")
    X = sp.csr_matrix(X, dtype=np.float32)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"X is empty: shape {X.shape}")
    return X
