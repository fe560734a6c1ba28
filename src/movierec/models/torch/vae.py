"""Mult-VAE: a variational autoencoder over each user's whole history.

Liang et al., "Variational Autoencoders for Collaborative Filtering", WWW 2018.
The encoder reads the L2-normalised, dropped-out history row; the decoder gives a
multinomial over all items; the loss is the multinomial log-likelihood of the row
plus beta * KL, beta annealed from 0 to `beta_max`. Unlike FM it sees the whole row
at once, and it folds in a new user from a history alone (one encoder pass).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from movierec.exceptions import ConfigError
from movierec.models.space import Choice, FloatRange
from movierec.models.torch.autoencoder import AutoencoderRecommender


class MultVAEModule(nn.Module):
    """history row -> (item logits, mu, logvar); the latent sample only while training."""

    def __init__(self, n_items: int, hidden: int, latent: int, dropout: float) -> None:
        super().__init__()
        self.encoder = nn.Linear(n_items, hidden)
        self.to_latent = nn.Linear(hidden, 2 * latent)
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.Tanh(), nn.Linear(hidden, n_items))
        self.dropout = nn.Dropout(dropout)

    def forward(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hidden = torch.tanh(self.encoder(self.dropout(F.normalize(rows, dim=1))))
        mu, logvar = self.to_latent(hidden).chunk(2, dim=1)
        latent = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decoder(latent), mu, logvar


def vae_loss(logits: torch.Tensor, rows: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             beta: float) -> torch.Tensor:
    """Multinomial negative log-likelihood of the rows plus beta * KL(q(z|x) || N(0, I))."""
    likelihood = (F.log_softmax(logits, dim=1) * rows).sum(1).mean()
    kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
    return -likelihood + beta * kl


class MultVAE(AutoencoderRecommender):
    """Mult-VAE (name ``"multvae"``), early-stopped on validation Recall@`valid_k`.

    Parameters
    ----------
    hidden, latent : widths of the hidden layer (encoder and decoder) and of z.
    dropout : input dropout, the denoising that keeps it from copying the history.
    beta_max, anneal_steps : KL weight grows linearly to `beta_max` over `anneal_steps`
        optimiser steps.
    epochs, batch_size, lr, weight_decay : Adam optimisation; with `valid`, training
        stops after `patience` epochs without a better validation Recall@`valid_k` and keeps
        the best epoch's weights.
    max_valid_users : validation users scored per epoch (a seeded sample beyond it; None or 0: every one).
    n_seeds : networks trained from seeds random_state, random_state + 1, ...; scores
        are their mean logits. Worth 3-5 on small data, where one seed's ranking is
        noisy (costs that many fits).

    Examples
    --------
    >>> X = sp.random(60, 30, density=0.3, format="csr", random_state=0, dtype=np.float32)
    >>> X.data[:] = 1
    >>> MultVAE(hidden=16, latent=4, epochs=2, device="cpu").fit(X).score(np.array([0, 1])).shape
    (2, 30)
    """

    name = "multvae"
    # defaults picked on the ml-100k mixed split's validation part (docs/models.md)
    param_grid: dict = {}
    search_space = {"dropout": FloatRange(0.1, 0.7), "lr": FloatRange(1e-4, 1e-2, log=True),
                    "beta_max": FloatRange(0.05, 0.6), "hidden": Choice((200, 400, 600))}

    def __init__(self, *, hidden: int = 400, latent: int = 100, dropout: float = 0.5, beta_max: float = 0.2,
                 anneal_steps: int = 2000, epochs: int = 200, batch_size: int = 128, lr: float = 3e-3,
                 weight_decay: float = 0.0, patience: int = 20, max_valid_users: int | None = 10_000,
                 n_seeds: int = 1, valid_k: int = 10, random_state: int = 0, device: str = "auto") -> None:
        self.hidden = hidden
        self.latent = latent
        self.dropout = dropout
        self.beta_max = beta_max
        self.anneal_steps = anneal_steps
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.max_valid_users = max_valid_users
        self.n_seeds = n_seeds
        self.valid_k = valid_k
        self.random_state = random_state
        self.device = device

    def _build(self, n_items: int) -> MultVAEModule:
        return MultVAEModule(n_items, self.hidden, self.latent, self.dropout)

    def _start(self, module: MultVAEModule) -> dict:
        return {"optimizer": torch.optim.Adam(module.parameters(), lr=self.lr, weight_decay=self.weight_decay),
                "step": 0}

    def _epoch(self, module: MultVAEModule, X: sp.csr_matrix, rng: np.random.Generator, device: torch.device,
               state: dict) -> float:
        total, count = 0.0, 0
        for rows in self._batches(X.shape[0], rng):
            batch = torch.from_numpy(X[rows].toarray()).to(device)
            beta = self.beta_max * min(1.0, state["step"] / max(self.anneal_steps, 1))
            logits, mu, logvar = state["forward"](batch)
            loss = vae_loss(logits, batch, mu, logvar, beta)
            state["optimizer"].zero_grad()
            loss.backward()
            state["optimizer"].step()
            total, count = total + float(loss.detach()) * len(rows), count + len(rows)
            state["step"] += 1
        return total / max(count, 1)

    def _check_params(self) -> None:
        super()._check_params()
        if min(self.hidden, self.latent, self.epochs, self.batch_size) < 1:
            raise ConfigError("multvae needs hidden, latent, epochs and batch_size >= 1")
        if not 0.0 <= self.dropout < 1.0 or self.beta_max < 0 or self.lr <= 0:
            raise ConfigError(f"multvae needs dropout in [0, 1), beta_max >= 0, lr > 0; got {self.dropout}, "
                              f"{self.beta_max}, {self.lr}")
