"""RecVAE: Mult-VAE with a deeper encoder, a composite prior and alternating updates.

Shenbin et al., "RecVAE: a New Variational Autoencoder for Top-N Recommendations with
Implicit Feedback", WSDM 2020. What changes against Mult-VAE, and why:

- the encoder is five densely connected layers (each adds every earlier layer's
  output) with swish and layer norm: a stronger encoder that still trains;
- the prior mixes a standard normal, the posterior of the *previous epoch's* encoder
  and a very wide normal: the latent codes cannot drift far from where they were,
  which stabilises training (a trust region on the posterior);
- the KL weight grows with the user's number of items (``gamma * |x_u|``) instead of
  a global annealed beta;
- the encoder (with input dropout) and the decoder (without) are updated in
  alternation, several encoder passes per decoder pass.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from movierec.exceptions import ConfigError
from movierec.models.space import FloatRange
from movierec.models.torch.autoencoder import AutoencoderRecommender

PRIOR_WEIGHTS = (3 / 20, 3 / 4, 1 / 10)  # standard normal, previous posterior, wide normal
WIDE_LOGVAR = 10.0


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Elementwise log-density of N(mu, exp(logvar)) at z."""
    return -0.5 * (logvar + math.log(2 * math.pi) + (z - mu).pow(2) / logvar.exp())


class RecVAEEncoder(nn.Module):
    """Normalised, dropped-out history row -> (mu, logvar) through densely connected layers."""

    def __init__(self, n_items: int, hidden: int, latent: int, depth: int = 5) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(n_items, hidden)] + [nn.Linear(hidden, hidden) for _ in range(depth - 1)])
        self.norms = nn.ModuleList([nn.LayerNorm(hidden) for _ in range(depth)])
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)

    def forward(self, rows: torch.Tensor, dropout: float) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.dropout(F.normalize(rows, dim=1), p=dropout, training=self.training)
        outputs: list[torch.Tensor] = []
        for layer, norm in zip(self.layers, self.norms):
            h = layer(x if not outputs else outputs[-1])
            outputs.append(norm(F.silu(h + sum(outputs)) if outputs else F.silu(h)))
        return self.mu(outputs[-1]), self.logvar(outputs[-1])


class RecVAEModule(nn.Module):
    """history row -> (item logits, z, mu, logvar); z is sampled while training, mu otherwise."""

    def __init__(self, n_items: int, hidden: int, latent: int) -> None:
        super().__init__()
        self.encoder = RecVAEEncoder(n_items, hidden, latent)
        self.previous = copy.deepcopy(self.encoder).requires_grad_(False)
        self.decoder = nn.Linear(latent, n_items)
        self.dropout = 0.0  # set by the training loop for each pass

    def forward(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(rows, self.dropout if self.training else 0.0)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decoder(z), z, mu, logvar

    def log_prior(self, rows: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Elementwise log-density of the composite prior at z."""
        self.previous.eval()
        previous_mu, previous_logvar = self.previous(rows, 0.0)
        zero = torch.zeros_like(z)
        parts = torch.stack([log_normal(z, zero, zero), log_normal(z, previous_mu, previous_logvar),
                             log_normal(z, zero, zero + WIDE_LOGVAR)], dim=-1)
        return torch.logsumexp(parts + torch.log(torch.tensor(PRIOR_WEIGHTS, device=z.device)), dim=-1)

    def remember_encoder(self) -> None:
        """The current encoder becomes the prior's 'previous posterior'."""
        self.previous.load_state_dict(self.encoder.state_dict())


def recvae_loss(module: RecVAEModule, rows: torch.Tensor, gamma: float) -> torch.Tensor:
    """Negative ELBO: multinomial likelihood, KL to the composite prior weighted by gamma * |x_u|."""
    logits, z, mu, logvar = module(rows)
    likelihood = (F.log_softmax(logits, dim=1) * rows).sum(1).mean()
    kl = (log_normal(z, mu, logvar) - module.log_prior(rows, z)).sum(1)
    return -likelihood + (kl * gamma * rows.sum(1)).mean()


class RecVAE(AutoencoderRecommender):
    """RecVAE (name ``"recvae"``), early-stopped on validation Recall@`valid_k`.

    Parameters
    ----------
    hidden, latent : encoder width and size of z (the decoder is one linear layer).
    dropout : input dropout of the encoder passes.
    gamma : KL weight per item of the user's history. The paper's 0.005 (tuned on
        ML-20M, Netflix, MSD) under-regularises small data; the default was chosen on
        the ml-100k splits' validation parts (docs/models.md).
    encoder_passes, decoder_passes : passes over the users per epoch for each part.
    epochs, batch_size, lr : Adam optimisation, one optimiser per part; with `valid`,
        training stops after `patience` epochs without a better validation Recall@`valid_k`
        and keeps the best epoch's weights. Batches of 128 rows, not the paper's 500:
        ml-100k's 943 users made two steps a pass at 500.
    max_valid_users : validation users scored per epoch (a seeded sample beyond it; None or 0: every one).
    n_seeds : networks trained from seeds random_state, random_state + 1, ...; scores
        are their mean logits. Worth 3-5 on small data, where one seed's ranking is
        noisy (costs that many fits).

    Examples
    --------
    >>> X = sp.random(60, 30, density=0.3, format="csr", random_state=0, dtype=np.float32)
    >>> X.data[:] = 1
    >>> RecVAE(hidden=16, latent=4, epochs=2, device="cpu").fit(X).score(np.array([0, 1])).shape
    (2, 30)
    """

    name = "recvae"
    param_grid: dict = {}
    search_space = {"dropout": FloatRange(0.1, 0.7), "lr": FloatRange(1e-4, 5e-3, log=True),
                    "gamma": FloatRange(1e-3, 0.05, log=True)}

    def __init__(self, *, hidden: int = 600, latent: int = 200, dropout: float = 0.5, gamma: float = 0.02,
                 encoder_passes: int = 3, decoder_passes: int = 1, epochs: int = 200, batch_size: int = 128,
                 lr: float = 5e-4, patience: int = 20, max_valid_users: int | None = 10_000,
                 n_seeds: int = 1, valid_k: int = 10, random_state: int = 0, device: str = "auto") -> None:
        self.hidden = hidden
        self.latent = latent
        self.dropout = dropout
        self.gamma = gamma
        self.encoder_passes = encoder_passes
        self.decoder_passes = decoder_passes
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.max_valid_users = max_valid_users
        self.n_seeds = n_seeds
        self.valid_k = valid_k
        self.random_state = random_state
        self.device = device

    def _build(self, n_items: int) -> RecVAEModule:
        return RecVAEModule(n_items, self.hidden, self.latent)

    def _start(self, module: RecVAEModule) -> dict:
        return {"encoder": torch.optim.Adam(module.encoder.parameters(), lr=self.lr),
                "decoder": torch.optim.Adam(module.decoder.parameters(), lr=self.lr)}

    def _epoch(self, module: RecVAEModule, X: sp.csr_matrix, rng: np.random.Generator, device: torch.device,
               state: dict) -> float:
        """Encoder passes (input dropout), the prior takes the new encoder, decoder passes; the
        loss returned is the last decoder pass's."""
        module.dropout = self.dropout
        for _ in range(self.encoder_passes):
            self._pass(state["forward"], X, rng, device, state["encoder"])
        module.remember_encoder()
        module.dropout = 0.0
        total = 0.0
        for _ in range(self.decoder_passes):
            total = self._pass(state["forward"], X, rng, device, state["decoder"])
        return total

    def _pass(self, module: RecVAEModule, X: sp.csr_matrix, rng: np.random.Generator, device: torch.device,
              optimizer: torch.optim.Optimizer) -> float:
        """One pass over the users updating the parameters `optimizer` holds; mean loss per user.
        `module` is the one to call: the network or its data-parallel wrapper."""
        total, count = 0.0, 0
        for rows in self._batches(X.shape[0], rng):
            batch = torch.from_numpy(X[rows].toarray()).to(device)
            loss = recvae_loss(module, batch, self.gamma)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, count = total + float(loss.detach()) * len(rows), count + len(rows)
        return total / max(count, 1)

    def _check_params(self) -> None:
        super()._check_params()
        if min(self.hidden, self.latent, self.epochs, self.batch_size, self.encoder_passes, self.decoder_passes) < 1:
            raise ConfigError("recvae needs hidden, latent, epochs, batch_size, encoder_passes and "
                              "decoder_passes >= 1")
        if not 0.0 <= self.dropout < 1.0 or self.gamma < 0 or self.lr <= 0:
            raise ConfigError(f"recvae needs dropout in [0, 1), gamma >= 0, lr > 0; got {self.dropout}, "
                              f"{self.gamma}, {self.lr}")
