"""Training on sampled pairs (FM, CFM, deep CFM): each positive against sampled negatives.

Each epoch draws positives (optionally rebalanced per user) and `n_negatives` sampled
negatives per positive, and takes optimizer steps over shuffled batches with BPR or
binary cross-entropy; the epochs run in the shared loop
(:func:`movierec.models.torch.loop.fit_epochs`). Launched by torchrun, each rank
takes its shard of every batch (:mod:`movierec.models.torch.distributed`). Per-layer gradient norms,
dead-activation shares and timings are recorded in the history so that a collapsing
deep model shows up in numbers (:mod:`movierec.analysis.diagnostics`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from movierec.exceptions import ConfigError
from movierec.models.torch import distributed
from movierec.models.torch.loop import TrainResult, deterministic_algorithms, fit_epochs, seed_everything
from movierec.models.torch.probes import ActivationProbe, gradient_norms
from movierec.sampling import PositiveSampler, popularity_negatives, uniform_negatives
from movierec.sampling.negatives import seen_keys

LOSSES = ("bpr", "bce")
OPTIMIZERS = ("adam", "adagrad")
NEGATIVE_SAMPLERS = ("uniform", "popularity")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by FM, CFM and deep CFM."""

    epochs: int = 30
    batch_size: int = 1024
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    reg: float = 0.0
    loss: str = "bpr"
    n_negatives: int = 1
    negatives: str = "uniform"
    popularity_alpha: float = 0.75
    positive_balance: float = 0.0
    patience: int = 5
    grad_every: int = 10
    seed: int = 0
    progress: bool = False

    def __post_init__(self) -> None:
        for name, value, allowed in (("loss", self.loss, LOSSES), ("optimizer", self.optimizer, OPTIMIZERS),
                                     ("negatives", self.negatives, NEGATIVE_SAMPLERS)):
            if value not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got {value!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.n_negatives < 1:
            raise ConfigError("epochs, batch_size and n_negatives must be >= 1")
        if not 0.0 <= self.positive_balance <= 1.0:
            raise ConfigError(f"positive_balance must lie in [0, 1], got {self.positive_balance}")


def pair_loss(scores: torch.Tensor, loss: str) -> torch.Tensor:
    """Loss of (B, 1 + n) scores whose first column is the positive."""
    positive, negative = scores[:, :1], scores[:, 1:]
    if loss == "bpr":
        return -F.logsigmoid(positive - negative).mean()
    labels = torch.zeros_like(scores)
    labels[:, 0] = 1.0
    return F.binary_cross_entropy_with_logits(scores, labels)


def make_optimizer(module: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.Adagrad(module.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                               initial_accumulator_value=1e-8)


def train(
    module: nn.Module,
    X: sp.csr_matrix,
    config: TrainConfig,
    *,
    device: torch.device,
    validate: Callable[[], float] | None = None,
    probe_batch: tuple[np.ndarray, np.ndarray] | None = None,
) -> TrainResult:
    """Train `module` in place on the positives of `X`; it ends holding the best state.

    Parameters
    ----------
    module : maps ``(users (B,), items (B, 1 + n))`` to ``(scores, penalty)``.
    X : csr_matrix (n_users, n_items), training positives.
    validate : returns validation Recall@k of the module as it is now (in eval
        mode); None trains for exactly ``config.epochs`` epochs.
    probe_batch : (users, items) pairs on which dead-activation shares are measured
        after every epoch.
    """
    with deterministic_algorithms():
        rng = seed_everything(config.seed)
        module.to(device)
        trained = distributed.wrap(module, device)  # module itself in one process
        optimizer = make_optimizer(module, config)
        sampler = PositiveSampler(X, balance=config.positive_balance)
        keys = seen_keys(X)

        def epoch_step(_epoch: int) -> dict:
            started = time.perf_counter()
            users, positives = sampler.epoch(rng)
            if config.negatives == "uniform":
                negatives = uniform_negatives(X, users, config.n_negatives, rng, keys=keys)
            else:
                negatives = popularity_negatives(X, users, config.n_negatives, rng, keys=keys,
                                                 alpha=config.popularity_alpha)
            items = np.concatenate([positives[:, None], negatives], axis=1)
            users_t, items_t = torch.from_numpy(users).to(device), torch.from_numpy(items).to(device)
            total, norms, n_norms = 0.0, {}, 0
            for step, start in enumerate(range(0, len(users), config.batch_size)):
                stop = min(start + config.batch_size, len(users))
                if stop - start < distributed.world_size():
                    break  # a tail too short to give every rank a row (only when data-parallel)
                batch = distributed.shard(start, stop)  # this rank's part of the global batch
                scores, penalty = trained(users_t[batch], items_t[batch])
                loss = pair_loss(scores, config.loss) + config.reg * penalty
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if step % config.grad_every == 0:
                    for name, value in gradient_norms(module).items():
                        norms[name] = norms.get(name, 0.0) + value
                    n_norms += 1
                optimizer.step()
                total += float(loss.detach()) * len(users_t[batch])
            return {"loss": total / len(users), "train_seconds": time.perf_counter() - started,
                    "grad_norms": {name: value / max(n_norms, 1) for name, value in norms.items()}}

        inspect = (lambda: {"dead_share": dead_shares(module, probe_batch, device)}) if probe_batch is not None else None
        return fit_epochs(module, epoch_step, epochs=config.epochs, patience=config.patience,
                          validate=distributed.main_decides(validate) if validate is not None else None,
                          inspect=inspect, progress=config.progress)


def dead_shares(module: nn.Module, probe_batch: tuple[np.ndarray, np.ndarray],
                device: torch.device) -> dict[str, float]:
    """Share of units of every activation layer that are never positive on the probe batch."""
    users, items = probe_batch
    with ActivationProbe(module) as probe, torch.no_grad():
        module(torch.as_tensor(users, device=device), torch.as_tensor(items, device=device))
    return probe.dead_shares()
