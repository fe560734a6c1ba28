"""What the autoencoder recommenders share: a user's whole history row in, item logits out.

Mult-VAE and RecVAE differ in their networks and in how one epoch updates them; the
rest is common and lives here: the seeded, deterministic fit, early stopping on
validation Recall@10 with the best epoch's weights kept, averaging several networks
trained from different seeds, scoring in blocks of rows, and fold-in of a new user
from a history alone (one encoder pass per network).
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
from movierec.exceptions import ConfigError, DataError
from movierec.models.base import check_matrix
from movierec.models.torch.common import TorchRecommender, check_valid, validation_recall
from movierec.models.torch.train import TrainResult, deterministic_algorithms, seed_everything

SCORE_BATCH = 1024  # rows densified per forward pass when scoring


class AutoencoderRecommender(TorchRecommender):
    """Base of ``multvae`` and ``recvae``; subclasses build the module and run one epoch.

    Subclasses set `epochs`, `batch_size`, `patience`, `max_valid_users`, `n_seeds`,
    `random_state` and `device`, and implement `_build`, `_start` and `_epoch`. The
    module's ``forward(rows)`` must return the item logits first; in eval mode it must
    be deterministic (no dropout, the latent mean).

    With ``n_seeds > 1`` it trains that many networks, from seeds `random_state`,
    `random_state + 1`, ..., each early-stopped on its own, and scores with the mean
    of their logits. On small data a single VAE's ranking moves a lot with its seed
    (the sampled latent and the input dropout); the mean is markedly better (ml-100k:
    Mult-VAE 0.318 -> 0.336 with 5 seeds, RecVAE 0.353 -> 0.362 with 3, see
    docs/issue4-results.md). Averaging logits ranks each user's items exactly as
    averaging log-probabilities would (they differ by a per-user constant).
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
    def _start(self, module: nn.Module) -> Any:
        """Optimisers and counters the epochs share (whatever `_epoch` needs)."""

    @abstractmethod
    def _epoch(self, module: nn.Module, X: sp.csr_matrix, rng: np.random.Generator, device: torch.device,
               state: Any) -> float:
        """Train one epoch over the rows of `X`; returns a mean loss per user (for the history)."""

    def fit(self, X: sp.csr_matrix, *, features: EncodedFeatures | None = None,
            valid: sp.csr_matrix | None = None) -> AutoencoderRecommender:
        self._check_params()
        X = check_matrix(X)
        valid = check_valid(X, valid)
        device = self._device()
        if self.n_seeds < 1:
            raise ConfigError(f"{self.name} needs n_seeds >= 1, got {self.n_seeds}")
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
        self.X_ = X
        return self

    @property
    def best_epoch_(self) -> int:
        """The seeds' early-stopped epoch counts, averaged: what a refit trains each network for."""
        return round(float(np.mean([result.best_epoch for result in self.train_results_])))

    def _train(self, module: nn.Module, X: sp.csr_matrix, valid: sp.csr_matrix | None,
               rng: np.random.Generator, device: torch.device) -> TrainResult:
        state = self._start(module)
        result = TrainResult(best_epoch=self.epochs, best_recall=None)
        best_state, stale = None, 0
        for epoch in range(1, self.epochs + 1):
            module.train()
            record = {"epoch": epoch, "loss": self._epoch(module, X, rng, device, state)}
            if valid is not None:
                record["recall@10"] = validation_recall(lambda users: self._forward(module, X[users], device), valid,
                                                        X, max_users=self.max_valid_users, seed=self.random_state)
                if result.best_recall is None or record["recall@10"] > result.best_recall:
                    result.best_epoch, result.best_recall, stale = epoch, record["recall@10"], 0
                    best_state = {key: value.detach().clone() for key, value in module.state_dict().items()}
                else:
                    stale += 1
            result.history.append(record)
            if valid is not None and stale >= self.patience:
                break
        if best_state is not None:
            module.load_state_dict(best_state)
        return result

    def _batches(self, n_rows: int, rng: np.random.Generator) -> list[np.ndarray]:
        """The rows of one pass over the users, shuffled, in about `batch_size` blocks."""
        return np.array_split(rng.permutation(n_rows), max(1, -(-n_rows // self.batch_size)))

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

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        """Scores for users given only their histories (fold-in: one encoder pass)."""
        self._check_fitted()
        if history.shape[1] != self.X_.shape[1]:
            raise DataError(f"history has {history.shape[1]} item columns, model has {self.X_.shape[1]}")
        return self._mean_logits(sp.csr_matrix(history, dtype=np.float32))

    @abstractmethod
    def _check_params(self) -> None:
        """Raise a ConfigError naming the model for parameters it cannot train with."""
