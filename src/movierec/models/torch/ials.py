"""iALS: implicit matrix factorisation by alternating least squares.

Hu, Koren and Volinsky, "Collaborative Filtering for Implicit Feedback Datasets", ICDM
2008, in the form of Rendle et al., "Revisiting the Performance of iALS on Item
Recommendation Benchmarks", RecSys 2022. With user vectors ``w_u`` and item vectors
``h_i`` (``dim`` each) and the history's weights ``x_ui`` (1 for a positive), it minimises

    sum_(u,i) in X  x_ui (w_u . h_i - 1)^2  +  alpha0 * sum_u sum_i (w_u . h_i)^2
    + reg * (sum_u r_u^nu ||w_u||^2 + sum_i r_i^nu ||h_i||^2),

where ``alpha0`` weighs every pair (so an unobserved one counts alpha0, an observed one
``x_ui + alpha0``), ``r_u = |I_u| + alpha0 * n_items``
(``r_i`` alike) scales the ridge with frequency, and ``nu`` is `reg_exponent`. Fixing
one side makes the other a ridge regression per row, solved exactly:

    (alpha0 H^T H + H_u^T diag(x_u) H_u + reg r_u^nu I) w_u = H_u^T x_u.

Each step builds every row's system in batched GEMMs (the rows' histories padded to
equal length within a block of rows sorted by length) and solves them in one batched
call per block, so nothing loops over interactions. An epoch solves the items,
then the users: the user vectors are then the exact solution given the items, so a new
user's history folds in by the same solve and scores as a fitted user would, and each
score is a sum of one term per watched item (`contributions`: "because you watched").
It is a matrix factorisation, a family none of the other models belongs to, and adds that
kind of signal to a reranker or an ensemble.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from movierec.data.encoded import EncodedFeatures
from movierec.exceptions import ConfigError
from movierec.models.base import check_history
from movierec.models.explain import explained_row
from movierec.models.space import FloatRange, IntRange
from movierec.models.torch.common import TorchRecommender, validation_recall
from movierec.models.torch.loop import deterministic_algorithms, fit_epochs, seed_everything

BLOCK_ELEMENTS = 1 << 22  # floats of one block's padded history vectors (rows x longest history x dim)
SYSTEM_ELEMENTS = 1 << 24  # floats of one block's linear systems (rows x dim x dim; 64 MB, a few copies at once)
SCORE_BATCH = 4096  # users scored per product with the item vectors


class Factors(nn.Module):
    """The user and item vectors (not trained by gradients: the steps overwrite them)."""

    def __init__(self, n_users: int, n_items: int, dim: int, init_std: float) -> None:
        super().__init__()
        scale = init_std / np.sqrt(dim)
        self.users = nn.Parameter(torch.randn(n_users, dim) * scale, requires_grad=False)
        self.items = nn.Parameter(torch.randn(n_items, dim) * scale, requires_grad=False)


def solve_rows(rows: sp.csr_matrix, other: torch.Tensor, *, unobserved_weight: float, reg: float,
               reg_exponent: float) -> torch.Tensor:
    """The exact least-squares vector of each row of `rows` given the other side's vectors.

    Parameters
    ----------
    rows : (n_rows, len(other)) CSR matrix of weights >= 0 (1 for a positive); explicit
        zeros count as absent.
    other : (n_other, dim) float tensor, the fixed side (item vectors for a user step).
    unobserved_weight, reg, reg_exponent : alpha0, the ridge weight and its exponent nu.

    Returns
    -------
    (n_rows, dim) tensor on `other`'s device; a row without entries gets the zero vector.

    Examples
    --------
    >>> rows = sp.csr_matrix(np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]], dtype=np.float32))
    >>> solve_rows(rows, torch.eye(3, 2), unobserved_weight=0.1, reg=0.01, reg_exponent=1.0).shape
    torch.Size([2, 2])
    """
    if rows.nnz and not rows.data.all():
        rows = rows.copy()
        rows.eliminate_zeros()
    n_rows, dim = rows.shape[0], other.shape[1]
    device = other.device
    padded = torch.cat([other, other.new_zeros(1, dim)])  # index len(other): a padding slot of zeros
    gram = unobserved_weight * (other.T @ other)
    counts = np.diff(rows.indptr)
    ridge = row_ridge(counts, other.shape[0], unobserved_weight=unobserved_weight, reg=reg, reg_exponent=reg_exponent)
    out = other.new_zeros(n_rows, dim)
    binary = bool((rows.data == 1).all())  # plain positives: no weights to multiply in
    order = np.argsort(counts, kind="stable")
    order = order[counts[order] > 0]
    for block in _length_blocks(counts[order], dim):
        block_rows = order[block]
        length = int(counts[block_rows[-1]])  # the longest in the block (sorted by length)
        offsets = np.arange(length)
        inside = offsets[None, :] < counts[block_rows][:, None]
        positions = np.where(inside, rows.indptr[block_rows][:, None] + offsets[None, :], 0)
        columns = torch.from_numpy(np.where(inside, rows.indices[positions], len(other))).to(device)
        vectors = padded[columns]  # (block, length, dim); padding slots are zero vectors
        if binary:
            weighted = vectors
        else:
            weights = torch.from_numpy(np.where(inside, rows.data[positions], 0.0).astype(np.float32)).to(device)
            weighted = vectors * weights[:, :, None]
        systems = torch.baddbmm(gram.expand(len(block_rows), dim, dim), weighted.mT, vectors)
        systems.diagonal(dim1=1, dim2=2).add_(torch.from_numpy(ridge[block_rows].astype(np.float32)).to(device)[:, None])
        targets = weighted.sum(dim=1).unsqueeze(2)  # (block, dim, 1)
        # batched LU: on the CPU faster than a Cholesky factorisation and its solve (SPD either way)
        out[torch.from_numpy(block_rows).to(device)] = torch.linalg.solve(systems, targets)[:, :, 0]
    return out


def row_ridge(counts: np.ndarray, n_other: int, *, unobserved_weight: float, reg: float,
              reg_exponent: float) -> np.ndarray:
    """Each row's ridge weight, ``reg * (count + alpha0 * n_other) ** nu``: frequency-scaled
    (Rendle et al.), so a long history is held back as much as the pairs it fits."""
    return reg * (np.asarray(counts) + unobserved_weight * n_other) ** reg_exponent


def _length_blocks(lengths: np.ndarray, dim: int) -> list[slice]:
    """Consecutive slices of rows sorted by ascending `lengths`, each small enough that
    its padded vectors (rows x longest x dim) stay under `BLOCK_ELEMENTS` floats and its
    systems (rows x dim x dim) under `SYSTEM_ELEMENTS`; a single row may exceed them alone."""
    most_rows = max(1, SYSTEM_ELEMENTS // dim**2)
    blocks, start = [], 0
    while start < len(lengths):
        ahead = lengths[start:start + most_rows]  # the lengths of the rows a block could take
        fits = np.arange(1, len(ahead) + 1) * ahead * dim <= BLOCK_ELEMENTS  # true, then false (ascending)
        stop = start + max(1, int(fits.sum()))
        blocks.append(slice(start, stop))
        start = stop
    return blocks


class IALS(TorchRecommender):
    """Implicit ALS (name ``"ials"``), early-stopped on validation Recall@`valid_k`.

    Parameters
    ----------
    dim : length of the user and item vectors.
    reg : ridge weight, scaled per row by ``(count + unobserved_weight * n_other) ** reg_exponent``.
    unobserved_weight : alpha0, the weight of every pair's squared score (pulling unobserved
        pairs to 0); an observed pair's error to 1 weighs its history value besides.
    reg_exponent : nu; 1 scales the ridge with frequency (Rendle et al.), 0 makes it uniform.
    init_std : the vectors start as normal noise of standard deviation ``init_std / sqrt(dim)``.
    epochs : at most this many (item step, user step) pairs; with `valid`, training stops
        after `patience` epochs without a better validation Recall@`valid_k` and keeps the
        best epoch's vectors.
    max_valid_users : validation users scored per epoch (a seeded sample beyond it; None or 0: every one).

    Examples
    --------
    >>> X = sp.random(60, 30, density=0.3, format="csr", random_state=0, dtype=np.float32)
    >>> X.data[:] = 1
    >>> IALS(dim=8, epochs=3, device="cpu").fit(X).score(np.array([0, 1])).shape
    (2, 30)
    """

    name = "ials"
    # defaults picked on the ml-100k mixed split's validation part; the lower corner is for
    # larger catalogues, where alpha0 * n_items makes the same values regularise more (docs/models.md)
    param_grid = {"reg": [0.003, 0.007, 0.01, 0.015], "unobserved_weight": [0.1, 0.3, 0.5, 0.7]}
    # the exponent stays at 1 (frequency-scaled): with it free, the regulariser's good range
    # moves with it, and TPE's 40 trials on ml-100k found neither (docs/results.md, "Tuning")
    search_space = {"dim": IntRange(16, 256, log=True), "reg": FloatRange(1e-3, 0.1, log=True),
                    "unobserved_weight": FloatRange(0.05, 2.0, log=True)}

    def __init__(self, *, dim: int = 64, reg: float = 0.01, unobserved_weight: float = 0.5,
                 reg_exponent: float = 1.0, init_std: float = 0.1, epochs: int = 30, patience: int = 3,
                 max_valid_users: int | None = 10_000, valid_k: int = 10, random_state: int = 0,
                 device: str = "auto") -> None:
        self.dim = dim
        self.reg = reg
        self.unobserved_weight = unobserved_weight
        self.reg_exponent = reg_exponent
        self.init_std = init_std
        self.epochs = epochs
        self.patience = patience
        self.max_valid_users = max_valid_users
        self.valid_k = valid_k
        self.random_state = random_state
        self.device = device

    def _check_params(self) -> None:
        super()._check_params()
        for name in ("dim", "epochs", "patience"):
            if getattr(self, name) < 1:
                raise ConfigError(f"ials needs {name} >= 1, got {getattr(self, name)!r}")
        for name, low in (("reg", "> 0"), ("unobserved_weight", "> 0"), ("init_std", "> 0"), ("reg_exponent", ">= 0")):
            value = getattr(self, name)
            if not (value > 0 if low == "> 0" else value >= 0):  # NaN fails both
                raise ConfigError(f"ials needs {name} {low}, got {value!r}")

    def _fit(self, X: sp.csr_matrix, *, features: EncodedFeatures | None, valid: sp.csr_matrix | None,
             timestamps: sp.csr_matrix | None) -> None:
        device = self._device()
        started = time.perf_counter()
        if X.nnz and not X.data.all():  # explicit zeros are no entries (nor counted in the ridge)
            X = X.copy()
            X.eliminate_zeros()
        by_item = sp.csr_matrix(X.T)
        ridge = self._ridge(np.diff(X.indptr), X.shape[1])  # per user, for the loss
        with deterministic_algorithms():
            seed_everything(self.random_state)
            module = Factors(*X.shape, self.dim, self.init_std).to(device)

            def epoch_step(epoch: int) -> dict:
                module.items.copy_(self._solve(by_item, module.users))
                module.users.copy_(self._solve(X, module.items))
                return {"loss": self._loss(X, ridge, module)}

            def validate() -> float:
                return validation_recall(lambda users: self._product(module, users), valid, X, k=self.valid_k,
                                         max_users=self.max_valid_users, seed=self.random_state)

            self.train_result_ = fit_epochs(module, epoch_step, epochs=self.epochs, patience=self.patience,
                                            validate=validate if valid is not None else None)
        self.module_ = module.to("cpu")
        self.train_seconds_ = time.perf_counter() - started

    def _ridge(self, counts: np.ndarray, n_other: int) -> np.ndarray:
        return row_ridge(counts, n_other, unobserved_weight=self.unobserved_weight, reg=self.reg,
                         reg_exponent=self.reg_exponent)

    def _solve(self, rows: sp.csr_matrix, other: torch.Tensor) -> torch.Tensor:
        return solve_rows(rows, other, unobserved_weight=self.unobserved_weight, reg=self.reg,
                          reg_exponent=self.reg_exponent)

    def _loss(self, X: sp.csr_matrix, ridge: np.ndarray, module: Factors) -> float:
        """The objective per history entry, without the ridge terms: how well the epoch fits.

        Right after the users' step each user vector is the exact solve ``A_u w_u = b_u``
        (``b_u = sum_j x_uj h_j``, the rows of ``X H``), so ``w_u^T A_u w_u = w_u . b_u`` and
        the fit terms of a user reduce to ``sum_j x_uj - w_u . b_u - ridge_u ||w_u||^2``:
        one sparse product instead of a prediction per entry. `ridge` is each user's
        ``reg * r_u ** nu``.
        """
        users = module.users.cpu().numpy().astype(np.float64)
        explained = (users * (X @ module.items.cpu().numpy())).sum()  # scipy's product: entries x dim
        fit = float(X.data.sum(dtype=np.float64)) - explained - (ridge * (users**2).sum(axis=1)).sum()
        return fit / max(X.nnz, 1)

    @staticmethod
    @torch.no_grad()
    def _product(module: Factors, users: np.ndarray) -> np.ndarray:
        index = torch.from_numpy(np.asarray(users, dtype=np.int64)).to(module.users.device)
        return (module.users[index] @ module.items.T).cpu().numpy()

    def _score(self, users: np.ndarray) -> np.ndarray:
        out = np.empty((len(users), self.X_.shape[1]), dtype=np.float32)
        for start in range(0, len(users), SCORE_BATCH):
            out[start:start + SCORE_BATCH] = self._product(self.module_, users[start:start + SCORE_BATCH])
        return out

    def contributions(self, items: np.ndarray, *, user: int | None = None, history: sp.csr_matrix | None = None,
                      timestamps: sp.csr_matrix | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The terms whose sum is each of `items`' score (see `ExplainsScores`), for a fitted
        `user` (an index) or a one-row `history`: the watched item indices, and
        (len(those), len(items)) parts ``x_uj h_j^T A_u^-1 h_i``.

        The user's vector is the exact solve ``A_u^-1 sum_j x_uj h_j`` (an epoch ends with
        the users' step; a fold-in is that solve), so its score of item i is linear in the
        watched items, one term each: Hu et al.'s own explanation of iALS (section 5).
        """
        row = explained_row(self, user=user, history=history, fitted_rows=self.X_, fold_in=self._fitted_items_only)
        watched, weights = row.indices, row.data.astype(np.float64)
        H = self.module_.items.numpy().astype(np.float64)
        system = self.unobserved_weight * (H.T @ H) + (H[watched].T * weights) @ H[watched]
        system[np.diag_indices_from(system)] += self._ridge(len(watched), len(H))
        items = np.asarray(items, dtype=np.int64)
        parts = (weights[:, None] * H[watched]) @ np.linalg.solve(system, H[items].T)
        return watched, parts.astype(np.float32)

    @torch.no_grad()
    def score_history(self, history: sp.csr_matrix, timestamps: sp.csr_matrix | None = None) -> np.ndarray:
        """Scores for users given only their histories (fold-in: the user step's solve
        against the fitted item vectors; order is not read)."""
        vectors = self._solve(self._fitted_items_only(check_history(self, history)), self.module_.items)
        return (vectors @ self.module_.items.T).numpy()

    def _fitted_items_only(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        """`rows` without the items whose vectors are zero (those no fitted history held: the
        item step gives them nothing): they would add nothing to the solve but their count
        to the ridge."""
        fitted = self.module_.items.any(dim=1).numpy()
        if fitted[rows.indices].all():
            return rows
        kept = rows.multiply(fitted[np.newaxis, :].astype(np.float32)).tocsr()
        kept.eliminate_zeros()
        return kept
