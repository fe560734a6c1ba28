"""FM: a factorization machine over user and item fields, trained with sampled negatives."""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
import torch

from movierec.data.encoded import EncodedFeatures
from movierec.exceptions import ConfigError
from movierec.models.space import Choice, FloatRange, IntRange
from movierec.models.torch.catalogue import train_catalogue
from movierec.models.torch.common import TorchRecommender, layouts_for, validation_recall
from movierec.models.torch.modules import FMModule
from movierec.models.torch.pairs import train

TRAININGS = ("pairs", "catalogue")


class FM(TorchRecommender):
    """Factorization machine (Rendle, ICDM 2010) for top-N ranking.

    Fields: user id, item id and every side field given (multi-hot fields pooled by
    `pooling`). Objective: binary cross-entropy (default) or BPR (Rendle et al. 2009)
    over each positive and `n_negatives` sampled unseen items, plus ``reg`` times the
    squared norm of the embeddings in the batch. With ``training="catalogue"`` the same
    BCE loss is taken in expectation over the draws instead: each step a batch of
    `batch_size` users against every item, unseen items weighted by how often the
    sampler would draw them (:mod:`movierec.models.torch.catalogue`; exact, no
    sampling noise, several times faster on a CPU). Defaults were chosen on the ml-100k
    mixed split's validation part (docs/models.md). Full ranking is exact and costs one
    matrix product: the model splits into a user side and an item side
    (:class:`FMModule`). Without features it is matrix factorization with user and
    item biases. Training stops early on validation Recall@`valid_k`.

    Examples
    --------
    >>> X = sp.random(40, 30, density=0.2, format="csr", random_state=0, dtype=np.float32)
    >>> X.data[:] = 1
    >>> FM(dim=8, epochs=2, device="cpu").fit(X).score(np.array([0, 1])).shape
    (2, 30)
    """

    name = "fm"
    param_grid: dict = {}
    search_space = {"dim": IntRange(16, 128, log=True), "lr": FloatRange(1e-4, 3e-2, log=True),
                    "reg": FloatRange(1e-4, 1e-1, log=True), "n_negatives": IntRange(1, 16, log=True),
                    "batch_size": Choice((256, 512, 1024, 2048))}

    def __init__(self, *, dim: int = 64, epochs: int = 80, batch_size: int = 1024, lr: float = 5e-3,
                 optimizer: str = "adam", weight_decay: float = 0.0, reg: float = 0.01, loss: str = "bce",
                 n_negatives: int = 4, negatives: str = "uniform", positive_balance: float = 0.0,
                 pooling: str = "mean", use_features: bool = True, patience: int = 8, training: str = "pairs",
                 valid_k: int = 10, random_state: int = 0, device: str = "auto", verbose: bool = False) -> None:
        self.dim = dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.reg = reg
        self.loss = loss
        self.n_negatives = n_negatives
        self.negatives = negatives
        self.positive_balance = positive_balance
        self.pooling = pooling
        self.use_features = use_features
        self.patience = patience
        self.training = training
        self.valid_k = valid_k
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _fit(self, X: sp.csr_matrix, *, features: EncodedFeatures | None, valid: sp.csr_matrix | None,
             timestamps: sp.csr_matrix | None) -> None:
        user_layouts, item_layouts = layouts_for(X, features, use_features=self.use_features, pooling=self.pooling)
        device = self._device()
        torch.manual_seed(self.random_state)
        module = FMModule(user_layouts, item_layouts, self.dim)

        def validate() -> float:
            sides = self._sides(module, X.shape, device)
            return validation_recall(lambda users: self._product(sides, users), valid, X, k=self.valid_k,
                                     max_users=None, seed=self.random_state)

        started = time.perf_counter()
        trainer = train_catalogue if self.training == "catalogue" else train
        self.train_result_ = trainer(module, X, self._train_config(), device=device,
                                     validate=validate if valid is not None else None)
        self.train_seconds_ = time.perf_counter() - started
        self.module_ = module.to("cpu")
        (self.user_vectors_, self.user_terms_,
         self.item_vectors_, self.item_terms_) = self._sides(self.module_, X.shape, torch.device("cpu"))

    @staticmethod
    @torch.no_grad()
    def _sides(module: FMModule, shape: tuple[int, int], device: torch.device) -> tuple[np.ndarray, ...]:
        """User vectors, user terms, item vectors, item terms of every user and item, as numpy."""
        module.eval()
        users = module.user_side(torch.arange(shape[0], device=device))
        items = module.item_side(torch.arange(shape[1], device=device))
        return tuple(part.detach().cpu().numpy().astype(np.float32) for part in (*users, *items))

    @staticmethod
    def _product(sides: tuple[np.ndarray, ...], users: np.ndarray) -> np.ndarray:
        user_vectors, user_terms, item_vectors, item_terms = sides
        scores = user_vectors[users] @ item_vectors.T
        scores += user_terms[users, None]
        scores += item_terms[None, :]
        return scores

    def _check_params(self) -> None:
        super()._check_params()
        if self.training not in TRAININGS:
            raise ConfigError(f"fm training must be one of {TRAININGS}, got {self.training!r}")
        if self.training == "catalogue" and self.loss != "bce":
            raise ConfigError(f"fm training 'catalogue' takes loss 'bce' (BPR's expectation pairs every positive "
                              f"with every item), got loss {self.loss!r}")

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self._product((self.user_vectors_, self.user_terms_, self.item_vectors_, self.item_terms_), users)
