"""The interface every recommender shares, in the spirit of scikit-learn and `implicit`.

A model is configured by keyword-only hyper-parameters stored unchanged in
``__init__``; `fit` learns state whose names end in ``_``; `score` gives a dense
(n_users, n_items) block; `recommend` does masking and top-k once for all models.
`fit` is written once here (a template method): it checks the parameters and the
inputs, sets ``X_`` and calls the model's own `_fit`. Abilities only some models
have are protocols: `FoldIn`, `RefitAware`, `OutOfFold`, `ReusesFits`.
"""

from __future__ import annotations

import hashlib
import inspect
import pickle
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np
import scipy.sparse as sp

from movierec.atomic import atomic_write_bytes
from movierec.checks import is_whole_number
from movierec.data.encoded import EncodedFeatures
from movierec.data.interactions import aligned_timestamps
from movierec.exceptions import ConfigError, DataError, NotFittedError
from movierec.models.space import Dimension, LineSearch
from movierec.ranking import DEFAULT_BATCH, ScoreFn, recommend_batched

Model = TypeVar("Model", bound="Recommender")


class Recommender(ABC):
    """Base class: subclasses implement `_fit` and `_score` (and `_check_params`).

    Class attributes
    ----------------
    name : registry name.
    param_grid : hyper-parameter values tried on validation by the pipeline.
    search_space : the ranges `movierec tune` samples from.
    line_search : one parameter the pipeline searches by golden section (each grid
        point tried at every value it probes) unless the run's config fixes it.
    """

    name: ClassVar[str] = ""
    param_grid: ClassVar[dict[str, list[Any]]] = {}
    search_space: ClassVar[dict[str, Dimension]] = {}
    line_search: ClassVar[LineSearch | None] = None

    X_: sp.csr_matrix  # the history the model was fitted on (users x items)

    def fit(
        self: Model,
        X: sp.spmatrix,
        *,
        features: EncodedFeatures | None = None,
        valid: sp.spmatrix | None = None,
        timestamps: sp.spmatrix | None = None,
    ) -> Model:
        """Learn from the binary users x items matrix `X`; returns the model.

        Parameters
        ----------
        X : sparse matrix, shape (n_users, n_items), ones for positives.
        features : side fields aligned with X's rows and columns; models may ignore them.
        valid : held-out positives of the same users, same shape as X (an empty matrix
            counts as none). Models read them to choose when to stop or what to keep
            (early stopping, blend weights); a model that also takes labels from them
            (the reranker) is `OutOfFold`, so that validation stays honest.
        timestamps : seconds with exactly the non-zeros of X; models that order a
            history in time read them, the others ignore them.

        Raises
        ------
        ConfigError
            For hyper-parameters the model cannot train with.
        DataError
            For inputs of the wrong type, shape or sparsity pattern.
        """
        self.check_params()
        X = check_matrix(X)
        valid = check_valid(X, valid)
        aligned_timestamps(X, timestamps)  # raises unless the timestamps match X's non-zeros
        self.X_ = X
        try:
            self._fit(X, features=features, valid=valid, timestamps=timestamps)
        except BaseException:
            del self.X_
            raise
        self.fit_fingerprint_ = fit_fingerprint(X, features, valid, timestamps)
        return self

    @abstractmethod
    def _fit(self, X: sp.csr_matrix, *, features: EncodedFeatures | None, valid: sp.csr_matrix | None,
             timestamps: sp.csr_matrix | None) -> None:
        """Learn the fitted state from checked inputs (`X` is float32 CSR with sorted
        indices and is already ``self.X_``; `valid` is None or non-empty)."""

    def check_params(self) -> None:
        """Raise a ConfigError for hyper-parameters this model cannot train with (`fit`
        checks them first; a run checks every model's before it trains any)."""
        try:
            self._check_params()
        except TypeError as error:  # a value of the wrong kind met a comparison (max_items = "x")
            raise ConfigError(f"model {self.name!r}: a parameter has a value of the wrong kind: {error}; "
                              f"parameters: {self.get_params()}") from None

    def _check_params(self) -> None:  # noqa: B027 (optional hook: most models override it)
        """Raise a ConfigError naming the model and the parameter for values it cannot train with."""

    @abstractmethod
    def _score(self, users: np.ndarray) -> np.ndarray:
        """Dense scores of shape (len(users), n_items); higher is better."""

    # ---- shared behaviour -------------------------------------------------
    def score(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for `users` (indices), shape (len(users), n_items).

        The array is the caller's: rankers mask it in place, and nothing of the model
        may be reached through it.
        """
        self._check_fitted()
        return self._score(self._check_users(users))

    def scorer(self) -> ScoreFn:
        """The score function rankings use: `score`, or one they can take a shortcut
        through (a `ranking.SameRow` where every user gets the same scores)."""
        return self.score

    def _check_users(self, users: np.ndarray) -> np.ndarray:
        given = np.asarray(users)
        if given.size and given.dtype.kind not in "iu":  # "7" or 1.7 would be cast to another user's index
            raise DataError(f"user indices must be integers (rows of X; a raw id goes through the run's id map), "
                            f"got {given.dtype} values such as {given.ravel()[0]!r}")
        users = given.astype(np.int64, copy=False)
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
        """Top-k `(items, scores)`, both of shape (len(users), k), best first; `users` one
        index or several. A slot only a masked item could fill holds item -1, score -inf.

        `exclude` (users x items, all users) overrides the fitted history as the mask.

        Raises
        ------
        ConfigError
            `k` or `batch_size` is not a whole number >= 1.
        DataError
            `exclude` does not have one row per fitted user and one column per item.
        """
        self._check_fitted()
        for name, value in (("k", k), ("batch_size", batch_size)):
            if not is_whole_number(value, 1):
                raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}")
        if exclude is not None and (not sp.issparse(exclude) or exclude.shape != self.X_.shape):
            raise DataError(f"exclude must be a sparse users x items matrix of shape {self.X_.shape}, got "
                            f"{getattr(exclude, 'shape', type(exclude).__name__)}")
        mask = exclude if exclude is not None else (self.X_ if exclude_seen else None)
        return recommend_batched(self.scorer(), self._check_users(np.atleast_1d(np.asarray(users))), k, exclude=mask,
                                 batch_size=batch_size, owned=True)

    @property
    def n_items(self) -> int:
        self._check_fitted()
        return self.X_.shape[1]

    def get_params(self) -> dict[str, Any]:
        signature = inspect.signature(type(self).__init__)
        return {name: getattr(self, name) for name in signature.parameters if name != "self"}

    def with_params(self: Model, **params: Any) -> Model:
        """A new, unfitted model with these parameters changed."""
        return type(self)(**(self.get_params() | params))

    def save(self, path: Path | str) -> None:
        """Pickle the fitted model atomically."""
        atomic_write_bytes(Path(path), pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))

    @staticmethod
    def load(path: Path | str) -> Recommender:
        """A model saved by `save` (pickle: load only files you trust)."""
        with Path(path).open("rb") as handle:
            try:
                model = pickle.load(handle)
            except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError,
                    IndexError, KeyError) as error:  # what a damaged or foreign pickle raises
                raise DataError(f"{path}: not a readable saved model ({type(error).__name__}: {error}); save it "
                                "again with this movierec") from None
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
    """Scores users from a history alone, so users unseen at fit time can be served.

    `history` has the fitted model's item columns, one row per user; `timestamps`
    (optional, the same non-zeros) order it for models that read order. A model whose
    ability depends on what it was fitted with (an ensemble, on its members) also has a
    ``can_fold_in`` property; ask :func:`folds_in`, which reads both.
    """

    def score_history(self, history: sp.csr_matrix, timestamps: sp.csr_matrix | None = None) -> np.ndarray: ...


def folds_in(model: Recommender) -> bool:
    """Whether `model` can score a history it was not fitted on: it has `score_history`,
    and a model whose ability depends on its fitted state (an ensemble, on its members)
    says so in `can_fold_in`."""
    return isinstance(model, FoldIn) and bool(getattr(model, "can_fold_in", True))


@runtime_checkable
class ExplainsScores(Protocol):
    """Scores that are sums of one term per history item (EASE's ``history @ B``): `contributions`
    gives, for one user (a known `user` index, or a one-row `history` with its
    `timestamps`), the history's item indices and each one's term in the score of each
    of `items` (history items x items): serving's "because you watched"."""

    def contributions(self, items: np.ndarray, *, user: int | None = None, history: sp.csr_matrix | None = None,
                      timestamps: sp.csr_matrix | None = None) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class ContinuesSequences(Protocol):
    """A sequence model: what it recommends follows a user's latest items, so without refit
    it is tested on each sequence continued through the validation items (the protocol of
    RecBole's sequential models and of the SASRec paper), while a static model recommends
    from the history it was fitted on.

    `continued` returns a copy that scores known users from the longer `history` (the
    fitted history plus later items, one row per known user), its weights unchanged.
    """

    def continued(self, history: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> Recommender: ...


@runtime_checkable
class RefitAware(Protocol):
    """Says which parameters to use when refitting without validation (e.g. epochs found)."""

    def refit_params(self) -> dict[str, Any]: ...


@runtime_checkable
class OutOfFold(Protocol):
    """A model that took labels from `valid` scores those users with parts of itself that
    never learned them, so validation measures it as honestly as any other model."""

    def score_out_of_fold(self, users: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class ReusesFits(Protocol):
    """A model with members of its own (reranker, ensemble) that may reuse fits its caller
    already made: those of the same model, parameters and inputs are used as members
    at the next `fit` instead of being trained again."""

    def offer_fits(self, fits: Mapping[str, Recommender]) -> None: ...


def validation_scorer(model: Recommender) -> ScoreFn:
    """What to measure `model`'s validation part with: its out-of-fold scores where it has them."""
    return model.score_out_of_fold if isinstance(model, OutOfFold) else model.scorer()


def check_matrix(X: sp.spmatrix, what: str = "X") -> sp.csr_matrix:
    """`X` as float32 CSR with sorted indices, or a DataError naming what was found.

    A matrix that already is one comes back as the same object (callers that cache on
    identity, like EASE's Gram matrix, rely on it); anything else is converted into a
    new one, so the caller's matrix is never changed in place.
    """
    if not sp.issparse(X) or X.ndim != 2:
        raise DataError(f"{what} must be a 2-d scipy sparse matrix (users x items), got {type(X).__name__}")
    if not (isinstance(X, sp.csr_matrix) and X.dtype == np.float32 and X.has_sorted_indices):
        X = sp.csr_matrix(X, dtype=np.float32, copy=True)
        X.sort_indices()
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{what} is empty: shape {X.shape}")
    check_weights(X, what)
    return X


def check_weights(X: sp.csr_matrix, what: str) -> None:
    """Raise a DataError naming the first entry of `X` (CSR) that is not a finite weight >= 0.

    Implicit feedback is ones for positives (or positive weights: recency, confidence);
    NaN or infinity would turn every score it reaches into NaN, and a negative weight has
    no meaning here.
    """
    bad = ~np.isfinite(X.data) | (X.data < 0)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        row = int(np.searchsorted(X.indptr, at, side="right") - 1)
        raise DataError(f"{what}[{row}, {int(X.indices[at])}] is {float(X.data[at])}: interactions must be finite "
                        "weights >= 0 (1 for a positive)")


def check_valid(X: sp.csr_matrix, valid: sp.spmatrix | None) -> sp.csr_matrix | None:
    """`valid` checked against `X`: float32 CSR of the same shape and no pair of X's, or
    None when absent or empty."""
    if valid is None:
        return None
    valid = check_matrix(valid, "valid")
    if valid.shape != X.shape:
        raise DataError(f"valid has shape {valid.shape} but X has {X.shape}; build both from one IdMap")
    shared = X.multiply(valid).nnz
    if shared:  # a held-out pair the model also trains on: early stopping and blends would read a leak
        raise DataError(f"valid shares {shared} (user, item) pairs with X; validation must be held out of the "
                        "training matrix (a split's valid part, not a copy of its train)")
    return valid if valid.nnz else None


def check_history(model: Recommender, history: sp.spmatrix) -> sp.csr_matrix:
    """A fold-in history as float32 CSR with the fitted model's item columns."""
    model._check_fitted()
    if not sp.issparse(history) or history.ndim != 2:
        raise DataError(f"history must be a 2-d scipy sparse matrix (users x items), got {type(history).__name__}")
    if history.shape[1] != model.X_.shape[1]:
        raise DataError(f"history has {history.shape[1]} item columns, model has {model.X_.shape[1]}")
    rows = sp.csr_matrix(history, dtype=np.float32, copy=True)
    rows.sort_indices()
    check_weights(rows, "history")
    return rows


def fit_fingerprint(
    X: sp.csr_matrix,
    features: EncodedFeatures | None,
    valid: sp.csr_matrix | None,
    timestamps: sp.csr_matrix | None,
) -> str:
    """A digest of everything a fit reads besides its parameters: two fits with equal
    parameters and fingerprints are the same fit. Hashes the arrays in place (no copy);
    the same matrix stored with its indices in another order hashes differently, which
    costs a refit, never a wrong reuse. SHA-256: CPUs with SHA instructions hash it
    faster than blake2b, and a run hashes every fit's inputs."""
    digest = hashlib.sha256()

    def add(matrix: sp.spmatrix | None) -> None:
        if matrix is None:
            digest.update(b"none")
            return
        matrix = sp.csr_matrix(matrix)
        digest.update(repr((matrix.shape, matrix.dtype.str)).encode())
        for array in (matrix.indptr, matrix.indices, matrix.data):
            digest.update(np.ascontiguousarray(array))

    for matrix in (X, valid, timestamps):
        add(matrix)
    for kind, fields in (("item", features.item_fields), ("user", features.user_fields)) if features else ():
        for name in sorted(fields):
            digest.update(f"{kind}:{name}".encode())
            add(fields[name].matrix)
    return digest.hexdigest()[:32]


def init_with_defaults(parent: Callable[..., None], **defaults: Any) -> Callable[..., None]:
    """An ``__init__`` that is `parent`'s with some defaults changed, signature included.

    A model that differs from its parent only in defaults (deep CFM from CFM) states
    just those, and still has the keyword-only signature `get_params` reads.
    """
    signature = inspect.signature(parent)
    unknown = set(defaults) - set(signature.parameters)
    if unknown:
        raise TypeError(f"{parent.__qualname__} has no parameters {sorted(unknown)}")

    def __init__(self, **params: Any) -> None:
        parent(self, **(defaults | params))

    __init__.__signature__ = signature.replace(parameters=[
        parameter.replace(default=defaults.get(name, parameter.default))
        for name, parameter in signature.parameters.items()])
    __init__.__doc__ = parent.__doc__
    return __init__

