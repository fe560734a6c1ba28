"""EASE: a closed-form item-item linear autoencoder.

Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019.
Objective: min_B ||X - XB||^2 + lambda ||B||^2 subject to diag(B) = 0, solved by
P = (X^T X + lambda I)^{-1}, B = -P / diag(P), diag(B) = 0.

Cost is one n_items^3 inverse, so at MovieLens-20M size (26,744 items) the work and
memory are dominated by two dense float32 n x n matrices (2.9 GB each). Three things
keep that manageable (benchmarks in ``benchmarks/``):

* the inverse is one in-place Cholesky inverse (LAPACK potrf + potri, never a
  general LU inverse): n^3 flops at about the machine's GEMM rate;
* the Gram matrix, the inverse and B share one buffer (no copies), and the Gram
  matrix of the last X is cached, so the ``l2``
  values a search probes over the same training matrix pay for ``X^T X`` once;
* ``max_items`` fits EASE on the most popular items only (others score -inf).
"""

from __future__ import annotations

import os
import weakref
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas, lapack

from movierec.checks import is_positive_finite, is_whole_number
from movierec.data.encoded import EncodedFeatures
from movierec.exceptions import ConfigError
from movierec.models.base import Recommender, check_history
from movierec.models.explain import explained_row
from movierec.models.products import HistoryProduct, scores_over
from movierec.models.recency import check_recency, recency_weighted
from movierec.models.space import Choice, FloatRange, LineSearch

MIRROR_TILE = 512  # rows per step when mirroring potri's triangle (the transposed block stays in cache)
# Largest matrix handed to one potrf call. OpenBLAS 0.3.31's threaded spotrf (scipy's
# wheels) segfaults from about 26,500 items on (26,000 passes; one thread passes at
# 26,744), so larger matrices are factored in blocks of this size (docs/results.md).
POTRF_MAX = 16384
GRAM_COLUMN_BLOCK = 512  # items per sparse product when building X^T X (bounds its temporaries)
GRAM_THREADS = min(4, os.cpu_count() or 1)  # scipy's sparse product releases the GIL
_POOL: ThreadPoolExecutor | None = None
UPDATE_MAX_SHARE = 0.3  # a cached Gram matrix is updated, not recomputed, below this share of changed entries


def gram(X: sp.csr_matrix) -> np.ndarray:
    """X^T X as a dense float32 (n_items, n_items) array, built a block of columns at a time.

    The sparse product of a whole MovieLens-size matrix holds hundreds of millions of
    non-zeros before densifying; blocks of `GRAM_COLUMN_BLOCK` items keep that
    temporary small, are written straight into one dense array, and run on a small
    thread pool (scipy releases the GIL): 2.5x faster than one product here.
    """
    n_items = X.shape[1]
    XT = sp.csr_matrix(X.T, dtype=np.float32)
    Xc = sp.csc_matrix(X, dtype=np.float32)
    out = np.empty((n_items, n_items), dtype=np.float32)

    def block(start: int) -> None:
        stop = min(start + GRAM_COLUMN_BLOCK, n_items)
        out[:, start:stop] = (XT @ Xc[:, start:stop]).toarray()

    _map(block, range(0, n_items, GRAM_COLUMN_BLOCK))
    return out


def _map(function, starts: range) -> None:
    """Run `function` over `starts` on the module's thread pool (inline with one thread)."""
    global _POOL
    if GRAM_THREADS < 2 or len(starts) < 2:
        for start in starts:
            function(start)
        return
    if _POOL is None:
        _POOL = ThreadPoolExecutor(GRAM_THREADS, thread_name_prefix="ease")
    list(_POOL.map(function, starts))


def spd_inverse(A: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite float32 matrix, in place (returns `A`).

    One Cholesky factorisation and its inverse (LAPACK potrf + potri, n^3 flops in
    all, never a general LU inverse), run in A's own buffer: a C-ordered symmetric
    matrix is its own transpose, so it is handed to LAPACK as the Fortran-ordered
    ``A.T`` and nothing is copied (above `POTRF_MAX` items the factorisation works on
    copies of one block at a time). potri fills one triangle; the other is mirrored in
    tiles. Its time against the n^3 / GEMM-rate bound: benchmarks/RESULTS.md.

    Raises
    ------
    ConfigError
        The matrix is singular or not positive definite (l2 too small for it).
    """
    if A.dtype != np.float32 or not A.flags.c_contiguous:
        raise ValueError("spd_inverse works in place on a C-contiguous float32 matrix")
    factor = _cholesky_upper(A.T)
    inverse, info = lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise ConfigError(f"Gram matrix + l2 I is singular (potri info={info}); increase l2")
    if not np.shares_memory(inverse, A):  # LAPACK wrappers copy only inputs they cannot use as they are
        A[...] = inverse.T
    _mirror_lower(A)
    return A


def _cholesky_upper(F: np.ndarray) -> np.ndarray:
    """U with F = U^T U in F's own buffer (F Fortran-ordered; its lower triangle is left as is).

    One potrf up to `POTRF_MAX` rows; above, a right-looking blocked Cholesky: each
    diagonal block is factored by potrf, the block row right of it solved by trsm and
    the trailing matrix updated by syrk, the same n^3 / 3 flops in BLAS-3 calls.
    """
    n = len(F)
    if n <= POTRF_MAX:
        return _potrf(F, 0)
    for start in range(0, n, POTRF_MAX):
        stop = min(start + POTRF_MAX, n)
        diagonal = _potrf(F[start:stop, start:stop], start)
        F[start:stop, start:stop] = diagonal
        if stop == n:
            break
        row = blas.strsm(1.0, diagonal, F[start:stop, stop:], side=0, lower=0, trans_a=1)
        del diagonal
        F[start:stop, stop:] = row
        F[stop:, stop:] = blas.ssyrk(-1.0, row, beta=1.0, c=F[stop:, stop:], trans=1, lower=0)
        del row
    return F


def _potrf(F: np.ndarray, offset: int) -> np.ndarray:
    """potrf of the diagonal block starting at row `offset` (which the error counts from)."""
    factor, info = lapack.spotrf(F, lower=False, clean=False, overwrite_a=True)
    if info != 0:
        info = info + offset if info > 0 else info
        raise ConfigError(f"Gram matrix + l2 I is not positive definite (potrf info={info}); increase l2")
    return factor


def _mirror_lower(A: np.ndarray) -> None:
    """Copy the lower triangle of the square `A` onto its upper one, a tile at a time."""
    n, tile = len(A), MIRROR_TILE
    for start in range(0, n, tile):
        stop = min(start + tile, n)
        A[start:stop, stop:] = A[stop:, start:stop].T
        diagonal = A[start:stop, start:stop]
        diagonal[...] = np.tril(diagonal) + np.tril(diagonal, -1).T


def ease_weights(G: np.ndarray, l2: float, *, overwrite: bool = False) -> np.ndarray:
    """B from the Gram matrix `G`; with `overwrite`, B is computed in G's own buffer."""
    P = G if overwrite else G.astype(np.float32, copy=True)
    P[np.diag_indices_from(P)] += np.float32(l2)
    spd_inverse(P)
    scale = -1.0 / np.diag(P)
    P *= scale[np.newaxis, :].astype(np.float32)
    np.fill_diagonal(P, 0.0)
    return P


class _GramCache:
    """The Gram matrix of the last training matrix, reused while that object lives.

    The pipeline fits one EASE per ``l2`` its search probes on the same ``X``; X^T X is
    the same each time. The entry is keyed by the object's identity plus a checksum
    of its structure and values (so an in-place change is noticed) and dropped when
    X is freed. A new matrix that differs from the cached one in a minority of its
    entries (the refit on train + valid after tuning on train) is not recomputed but
    updated: with D = X_new - X_old, X_new^T X_new = G + X_old^T D + D^T X_old + D^T D,
    which costs the products with D only.
    """

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.matrix: np.ndarray | None = None
        self.fitted: sp.csr_matrix | None = None

    @staticmethod
    def _key(X: sp.spmatrix, items: np.ndarray | None) -> tuple:
        X = sp.csr_matrix(X)
        columns = zlib.crc32(X.indices.tobytes()) if X.nnz else 0
        values = zlib.crc32(X.data.tobytes()) if X.nnz else 0  # weights changed in place, same structure
        chosen = zlib.crc32(items.tobytes()) if items is not None else -1
        return (id(X), X.shape, X.nnz, zlib.crc32(X.indptr.tobytes()), columns, values, chosen)

    def get(self, source: sp.spmatrix, X: sp.csr_matrix, items: np.ndarray | None) -> np.ndarray:
        key = (id(source),) + self._key(X, items)[1:]
        if key != self.key or self.matrix is None:
            previous = self._unchanged_previous(items)
            self.clear()
            self.matrix = _updated_gram(*previous, X) if previous else None
            if self.matrix is None:
                self.matrix = gram(X)
            self.key, self.fitted = key, X
            try:
                weakref.finalize(source, self.clear_if, key)
            except TypeError:  # objects without weakref support are simply not cached for long
                pass
        return self.matrix

    def _unchanged_previous(self, items: np.ndarray | None) -> tuple[np.ndarray, sp.csr_matrix] | None:
        """The cached (G, X) if X still holds what G was computed from, over the same items."""
        if self.matrix is None or self.fitted is None or self.key is None:
            return None
        if self._key(self.fitted, items)[1:] != self.key[1:]:  # other items, or X changed in place
            return None
        return self.matrix, self.fitted

    def clear_if(self, key: tuple) -> None:
        if self.key == key:
            self.clear()

    def clear(self) -> None:
        self.key, self.matrix, self.fitted = None, None, None


def _updated_gram(G: np.ndarray, X_old: sp.csr_matrix, X_new: sp.csr_matrix) -> np.ndarray | None:
    """X_new^T X_new from G = X_old^T X_old when the two differ in few entries, else None.

    With D = X_new - X_old, X_new^T X_new = G + X_old^T D + D^T X_new: two sparse
    products with D, built a block of columns at a time (as :func:`gram` does) and
    added to G's block densely, on the module's thread pool.
    """
    if X_old.shape != X_new.shape:
        return None
    delta = sp.csr_matrix(X_new - X_old, dtype=np.float32)
    delta.eliminate_zeros()
    if delta.nnz > UPDATE_MAX_SHARE * max(X_new.nnz, 1):
        return None
    n_items = X_new.shape[1]
    old_T, delta_T = sp.csr_matrix(X_old.T, dtype=np.float32), sp.csr_matrix(delta.T)
    delta_c, new_c = sp.csc_matrix(delta), sp.csc_matrix(X_new, dtype=np.float32)
    updated = np.empty_like(G)

    def block(start: int) -> None:
        stop = min(start + GRAM_COLUMN_BLOCK, n_items)
        change = old_T @ delta_c[:, start:stop] + delta_T @ new_c[:, start:stop]
        updated[:, start:stop] = G[:, start:stop] + change.toarray()

    _map(block, range(0, n_items, GRAM_COLUMN_BLOCK))
    return updated


GRAM_CACHE = _GramCache()
_LAST_WEIGHTS: tuple[tuple, weakref.ref] | None = None


def _cached_weights(G: np.ndarray, l2: float) -> np.ndarray:
    """ease_weights(G, l2), reusing the last B while it lives and G and l2 are the same.

    Grid points that differ only in scoring options (``recency_decay``) share one B
    instead of paying for another inverse. The shared B is made read-only.
    """
    global _LAST_WEIGHTS
    key = (GRAM_CACHE.key, id(G), float(l2))
    if _LAST_WEIGHTS is not None and _LAST_WEIGHTS[0] == key and GRAM_CACHE.key is not None:
        B = _LAST_WEIGHTS[1]()
        if B is not None:
            return B
    B = ease_weights(G, l2)
    B.flags.writeable = False
    _LAST_WEIGHTS = (key, weakref.ref(B))
    return B


def top_items(X: sp.csr_matrix, max_items: int) -> np.ndarray:
    """Indices (ascending) of the `max_items` items with most interactions; ties to the lower index."""
    counts = np.diff(sp.csc_matrix(X).indptr)
    return np.sort(np.argsort(-counts, kind="stable")[:max_items])


class ItemItemModel(Recommender):
    """Scoring shared by the closed-form item-item models (EASE, DLAE): ``history @ B``.

    Subclasses fit ``B_`` (items x items) and set ``history_``, the (recency-weighted)
    rows they score from; ``items_`` (or None) restricts B to a subset of columns.
    """

    recency_decay: float
    recency_floor: float
    B_: np.ndarray

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self._scores_of(self.history_[users])

    def scorer(self) -> HistoryProduct:
        """`score` as a `HistoryProduct`, which copies B's column blocks once for all of a ranking's batches."""
        self._check_fitted()
        return HistoryProduct(lambda users: self.history_[self._check_users(users)], self.B_,
                              getattr(self, "items_", None))

    def score_history(self, history: sp.csr_matrix, timestamps: sp.csr_matrix | None = None) -> np.ndarray:
        """Scores for users given only their histories (rows of a (n, n_items) matrix).

        With `timestamps` (same non-zeros as `history`) the history is recency-weighted
        like the fitted one; without them every item counts alike.
        """
        return self._scores_of(self._weighted(check_history(self, history), timestamps))

    def contributions(self, items: np.ndarray, *, user: int | None = None, history: sp.csr_matrix | None = None,
                      timestamps: sp.csr_matrix | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The terms whose sum is each of `items`' score (see `ExplainsScores`), for a
        fitted `user` (an index) or a one-row `history` with its `timestamps` (recency
        weighting reads them): the history's item indices, and (len(those), len(items))
        parts, each watched item's weight times B's entry (0 outside `max_items`)."""
        row = explained_row(self, user=user, history=history, fitted_rows=self.history_,
                            fold_in=lambda rows: self._weighted(rows, timestamps))
        watched, weights = row.indices, row.data.astype(np.float32)
        items = np.asarray(items, dtype=np.int64)
        columns = getattr(self, "items_", None)
        if columns is None:
            return watched, weights[:, None] * self.B_[np.ix_(watched, items)]
        position = np.full(self.n_items, -1, dtype=np.int64)  # item -> its row and column of B (-1: not fitted)
        position[columns] = np.arange(len(columns))
        out = np.zeros((len(watched), len(items)), dtype=np.float32)
        rows, cols = position[watched], position[items]
        fitted = np.ix_(rows >= 0, cols >= 0)
        out[fitted] = weights[rows >= 0, None] * self.B_[np.ix_(rows[rows >= 0], cols[cols >= 0])]
        return watched, out

    def _weighted(self, X: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> sp.csr_matrix:
        return recency_weighted(X, timestamps, decay=self.recency_decay, floor=self.recency_floor)

    def _scores_of(self, rows: sp.csr_matrix) -> np.ndarray:
        return scores_over(rows, self.B_, getattr(self, "items_", None))


class EASE(ItemItemModel):
    """EASE (Steck 2019) with L2 weight `l2` (lambda), float32 throughout.

    Parameters
    ----------
    l2 : ridge weight lambda (> 0).
    max_items : fit on the `max_items` most interacted items only (``None``: all). The
        other items get score -inf, so they are never recommended. On the synthetic
        MovieLens-20M preset most interactions fall on a minority of the items, while
        the solve costs the cube of the share kept.
    recency_decay, recency_floor : score from a recency-weighted history (see
        :mod:`movierec.models.recency`; needs ``timestamps`` in `fit`). B is unchanged:
        only the user's rows are weighted. 1.0 scores the plain binary history, as in
        the paper; the grid lets validation choose, which picks a decay below 1 where
        the hidden items are a sequence's tail (leave-last-k) and 1.0 elsewhere.

    Scoring is ``history[users] @ B``; :meth:`score_history` folds in a user unseen at
    fit time from their history alone.

    Examples
    --------
    >>> X = sp.random(50, 20, density=0.2, format="csr", random_state=0, dtype=np.float32)
    >>> X.data[:] = 1
    >>> EASE(l2=10.0).fit(X).recommend(np.array([0, 1]), k=3)[0].shape
    (2, 3)
    """

    name = "ease"
    # recency 0.9 wins on validation only where the hidden items are the sequence's
    # tail (temporal protocol); elsewhere the plain history (1.0) does. Both share each
    # l2's B, so the grid costs one inverse per l2 the line search probes.
    param_grid = {"recency_decay": [1.0, 0.9]}
    line_search = LineSearch("l2", start=300.0, low=20.0, high=5000.0, max_fits=5)
    search_space = {"l2": FloatRange(10.0, 5000.0, log=True), "recency_decay": Choice((1.0, 0.95, 0.9, 0.8))}

    def __init__(self, *, l2: float = 300.0, max_items: int | None = None, recency_decay: float = 1.0,
                 recency_floor: float = 0.0) -> None:
        self.l2 = l2
        self.max_items = max_items
        self.recency_decay = recency_decay
        self.recency_floor = recency_floor

    def _check_params(self) -> None:
        if not is_positive_finite(self.l2):
            raise ConfigError(f"ease needs a finite l2 > 0, got {self.l2}")
        if self.max_items is not None and not is_whole_number(self.max_items, 1):
            raise ConfigError(f"ease max_items must be a whole number >= 1 or None, got {self.max_items!r}")
        check_recency(self.recency_decay, self.recency_floor)

    def _fit(self, X: sp.csr_matrix, *, features: EncodedFeatures | None, valid: sp.csr_matrix | None,
             timestamps: sp.csr_matrix | None) -> None:
        """Fit B on `X`; `timestamps` (same non-zeros as X) order the history for recency weighting."""
        n_items = X.shape[1]
        self.items_ = top_items(X, self.max_items) if self.max_items and self.max_items < n_items else None
        fitted = X if self.items_ is None else X[:, self.items_]
        self.B_ = _cached_weights(GRAM_CACHE.get(X, fitted, self.items_), self.l2)
        self.history_ = self._weighted(X, timestamps)
