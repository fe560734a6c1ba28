"""What the autoencoder recommenders share: a user's whole history row in, item logits out.

Mult-VAE and RecVAE differ in their networks and in how one epoch updates them; the
rest is common and lives here: the seeded, deterministic fit in the shared epoch
loop (:func:`movierec.models.torch.loop.fit_epochs`: early stopping on validation
Recall@k, the best epoch's weights kept), averaging several networks trained from
different seeds, scoring in blocks of rows, and fold-in of a new user from a history
alone (one encoder pass per network).
"""

from __future__ import annotations

import time
from abc import abstractmethod
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from movierec.data.encoded import EncodedFeatures
from movierec.exceptions import ConfigError
from movierec.models.base import check_history
from movierec.models.torch import distributed
from movierec.models.torch.common import TorchRecommender, validation_recall
from movierec.models.torch.loop import TrainResult, deterministic_algorithms, fit_epochs, seed_everything

SCORE_BATCH = 1024  # rows densified per forward pass when scoring


class AutoencoderRecommender(TorchRecommender):
    """Base of ``multvae`` and ``recvae``; subclasses build the module and run one epoch.

    Subclasses set `epochs`, `batch_size`, `patience`, `max_valid_users`, `n_seeds`,
    `valid_k`, `random_state` and `device`, and implement `_build`, `_start` and
    `_epoch`. The module's ``forward(rows)`` must return the item logits first; in eval
    mode it must be deterministic (no dropout, the latent mean).

    With ``n_seeds > 1`` it trains that many networks, from seeds `random_state`,
    `random_state + 1`, ..., each early-stopped on its own, and scores with the mean
    of their logits. On small data a single VAE's ranking moves a lot with its seed
    (the sampled latent and the input dropout), and the mean of a few ranks better
    (docs/models.md). Averaging logits ranks each user's items exactly as averaging
    log-probabilities would (they differ by a per-user constant).
    """

    epochs: int
    batch_size: int
    patience: int
    max_valid_users: int | None
    n_seeds: int
    random_state: int
    device: str

    @abstractmethod
    def _build(self, n_items: int) -> nn.Module:
        """A fresh network for `n_items` items."""

    @abstractmethod
    def _start(self, module: nn.Module) -> dict[str, Any]:
        """Optimisers and counters the epochs share (whatever `_epoch` needs)."""

    @abstractmethod
    def _epoch(self, module: nn.Module, X: sp.csr_matrix, rng: np.random.Generator, device: torch.device,
               state: dict[str, Any]) -> float:
        """Train one epoch over the rows of `X`; returns a mean loss per user (for the history).

        ``state["forward"]`` is the module to call in training: the module itself, or
        its data-parallel wrapper under torchrun (attributes are read and set on `module`).
        """

    def _fit(self, X: sp.csr_matrix, *, features: EncodedFeatures | None, valid: sp.csr_matrix | None,
             timestamps: sp.csr_matrix | None) -> None:
        device = self._device()
        started = time.perf_counter()
        self.modules_, self.train_results_ = [], []
        for offset in range(self.n_seeds):
            with deterministic_algorithms():
                rng = seed_everything(self.random_state + offset)
                module = self._build(X.shape[1]).to(device)
                self.train_results_.append(self._train(module, X, valid, rng, device))
            self.modules_.append(module.to("cpu").eval())
        self.train_seconds_ = time.perf_counter() - started
        self.module_, self.train_result_ = self.modules_[0], self.train_results_[0]

    def _train(self, module: nn.Module, X: sp.csr_matrix, valid: sp.csr_matrix | None,
               rng: np.random.Generator, device: torch.device) -> TrainResult:
        state = self._start(module) | {"forward": distributed.wrap(module, device)}

        def validate() -> float:
            return validation_recall(lambda users: self._forward(module, X[users], device), valid, X,
                                     k=self.valid_k, max_users=self.max_valid_users, seed=self.random_state)

        return fit_epochs(module, lambda epoch: {"loss": self._epoch(module, X, rng, device, state)},
                          epochs=self.epochs, patience=self.patience,
                          validate=distributed.main_decides(validate) if valid is not None else None)

    def _batches(self, n_rows: int, rng: np.random.Generator) -> list[np.ndarray]:
        """This rank's rows of each batch of one pass over the users, shuffled, in about
        `batch_size` blocks (every rank draws the same permutation)."""
        blocks = np.array_split(rng.permutation(n_rows), max(1, -(-n_rows // self.batch_size)))
        return [distributed.shard_rows(rows) for rows in blocks if len(rows) >= distributed.world_size()]

    @staticmethod
    @torch.no_grad()
    def _forward(module: nn.Module, rows: sp.csr_matrix, device: torch.device) -> np.ndarray:
        """Item logits of history rows (eval mode), in blocks of rows."""
        module.eval()
        out = np.empty(rows.shape, dtype=np.float32)
        for start in range(0, rows.shape[0], SCORE_BATCH):
            block = torch.from_numpy(rows[start:start + SCORE_BATCH].toarray()).to(device)
            out[start:start + SCORE_BATCH] = module(block)[0].cpu().numpy()
        return out

    def _mean_logits(self, rows: sp.csr_matrix) -> np.ndarray:
        """The networks' item logits for history rows, averaged."""
        out = self._forward(self.modules_[0], rows, torch.device("cpu"))
        for module in self.modules_[1:]:
            out += self._forward(module, rows, torch.device("cpu"))
        return out / len(self.modules_) if len(self.modules_) > 1 else out

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self._mean_logits(self.X_[users])

    def score_history(self, history: sp.csr_matrix, timestamps: sp.csr_matrix | None = None) -> np.ndarray:
        """Scores for users given only their histories (fold-in: one encoder pass; order is not read)."""
        return self._mean_logits(check_history(self, history))

    def _check_params(self) -> None:
        super()._check_params()
        if self.n_seeds < 1:
            raise ConfigError(f"{self.name} needs n_seeds >= 1, got {self.n_seeds}")
