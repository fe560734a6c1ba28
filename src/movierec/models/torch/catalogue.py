"""Training against the whole catalogue: the sampled pairs' loss in expectation (FM).

:mod:`movierec.models.torch.pairs` draws, every epoch, each positive and `n_negatives`
unseen items, and takes binary cross-entropy over them. Its expectation over the draws
has a closed form: every positive once, and every item the user has not seen weighted
by how often the sampler would draw it, ``n_negatives * n_u * p_i / (1 - P_u)`` (p the
sampler's item probabilities, ``P_u`` the share of them on the user's own items; with
uniform draws ``n_negatives * n_u / (n_items - n_u)``). A step here is a batch of users
scored against every item, one matrix product for a model that splits into a user side
and an item side (:meth:`FMModule.catalogue`), and that loss computed exactly: no
sampling noise, and one step per `batch_size` users where the pairs take one per
thousand positives. The per-batch L2 penalty is the pairs' in expectation too (each embedding
weighted by how often it would appear in a batch), which is what keeps rare items from
being shrunk by epochs in which they would never be drawn. This is the non-sampling
idea of Chen et al., "Efficient Non-Sampling Factorization Machines for Optimal
Context-Aware Recommendation" (WWW 2020), applied to the loss FM already has; the
expectation is over the loss, so the optimum is the pairs' one, reached without
their noise. Figures and speed: docs/results.md, "FM and the FM family".
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from movierec.exceptions import ConfigError
from movierec.models.torch import distributed
from movierec.models.torch.loop import TrainResult, deterministic_algorithms, fit_epochs, seed_everything
from movierec.models.torch.pairs import TrainConfig, make_optimizer
from movierec.sampling import PositiveSampler, positive_pairs
from movierec.sampling.negatives import popularity_probabilities


class CatalogueScores(nn.Module):
    """A model's `catalogue(users)` as its forward, so that data-parallel training's
    wrapper (which averages gradients of what its forward computed) sees the step."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.model.catalogue(users)


def item_probabilities(X: sp.csr_matrix, config: TrainConfig) -> np.ndarray:
    """The probability of each item under the pairs' negative sampler, before it rejects seen items."""
    if config.negatives == "uniform":
        return np.full(X.shape[1], 1.0 / X.shape[1])
    return popularity_probabilities(X, alpha=config.popularity_alpha)


def expected_loss(scores: torch.Tensor, rows: sp.csr_matrix, draws: torch.Tensor, probabilities: torch.Tensor,
                  n_negatives: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed expected BCE of a batch and each item's expected appearances in it.

    Parameters
    ----------
    scores : (B, n_items) logits of the batch's users against every item.
    rows : (B, n_items) training rows of those users (CSR, binary).
    draws : (B,) positive draws per positive of each user (1 without rebalancing).
    probabilities : (n_items,) the negative sampler's item probabilities.

    Returns
    -------
    loss : the sum over the batch of ``draws * (BCE of the positives + sum_i w_i BCE(unseen i))``.
    appearances : (n_items,) how often each item would appear in the batch's sampled rows.

    With W the appearance weights (``draws`` on a positive, the expected negative draws
    elsewhere), BCE's two sides fold into ``sum W softplus(s) - sum_positives draws s``
    (``softplus(-s) = softplus(s) - s``): one pass over the block, the positives gathered.
    """
    device = scores.device
    user, item = (torch.as_tensor(part, device=device) for part in positive_pairs(rows))
    counts = torch.as_tensor(np.diff(rows.indptr), dtype=scores.dtype, device=device)
    unseen_mass = torch.zeros_like(counts).index_add_(0, user, probabilities[item])
    unseen_mass = (1.0 - unseen_mass).clamp(min=1e-12)
    with torch.no_grad():
        weights = torch.outer(n_negatives * draws * counts / unseen_mass, probabilities)
        weights[user, item] = draws[user]
    loss = (weights * F.softplus(scores)).sum() - (draws[user] * scores[user, item]).sum()
    return loss, weights.sum(0)


def train_catalogue(
    module: nn.Module,
    X: sp.csr_matrix,
    config: TrainConfig,
    *,
    device: torch.device,
    validate: Callable[[], float] | None = None,
) -> TrainResult:
    """Train `module` in place on the positives of `X` against the whole catalogue.

    Parameters
    ----------
    module : has ``catalogue(users) -> (scores (B, n_items), user norms (B,), item norms (n_items,))``,
        the squared norms being what the pairs' penalty sums per appearance.
    X : csr_matrix (n_users, n_items), training positives.
    config : the pairs' settings; ``batch_size`` counts users, ``loss`` must be "bce"
        (BPR's expectation pairs every positive with every item) and ``n_negatives``
        sets the weight of the unseen items. Under torchrun each rank takes its share
        of every batch's users and normalises by its own share's draws.
    validate : validation Recall@k of the module as it is now; None trains for
        exactly ``config.epochs`` epochs.
    """
    if config.loss != "bce":
        raise ConfigError(f"training against the whole catalogue takes loss 'bce', got {config.loss!r}")
    X = sp.csr_matrix(X)
    with deterministic_algorithms():
        rng = seed_everything(config.seed)
        module.to(device)
        trained = distributed.wrap(CatalogueScores(module), device)
        optimizer = make_optimizer(module, config)
        counts = np.diff(X.indptr)
        if config.positive_balance > 0:  # the rebalanced draws of each user's positives
            draws_per_user = PositiveSampler(X, balance=config.positive_balance).draws_per_user
            per_positive = np.where(counts > 0, draws_per_user / np.maximum(counts, 1), 0.0)
        else:
            per_positive = (counts > 0).astype(np.float64)
        draws_all = torch.as_tensor(per_positive, dtype=torch.float32, device=device)
        # the sampled rows each user would fill in an epoch: one per positive draw
        rows_all = draws_all * torch.as_tensor(counts, dtype=torch.float32, device=device)
        probabilities = torch.as_tensor(item_probabilities(X, config), dtype=torch.float32, device=device)
        total_draws = float((per_positive * counts).sum())
        active = np.flatnonzero(counts > 0)
        per_row = 1 + config.n_negatives

        def epoch_step(_epoch: int) -> dict:
            started = time.perf_counter()
            order = active[rng.permutation(len(active))]
            total = 0.0
            for start in range(0, len(order), config.batch_size):
                block = order[start:start + config.batch_size]
                if len(block) < distributed.world_size():
                    break  # a tail too short to give every rank a user (only when data-parallel)
                batch = distributed.shard_rows(block)
                users = torch.as_tensor(batch, device=device)
                rows = X[batch]
                draws = draws_all[users]
                scores, user_norms, item_norms = trained(users)
                summed, appearances = expected_loss(scores, rows, draws, probabilities, config.n_negatives)
                user_draws = rows_all[users]
                batch_draws = user_draws.sum()
                penalty = (user_draws @ user_norms + appearances @ item_norms / per_row) / batch_draws
                loss = summed / (batch_draws * per_row) + config.reg * penalty
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(summed.detach()) / per_row
            return {"loss": total / max(total_draws, 1.0), "train_seconds": time.perf_counter() - started}

        return fit_epochs(module, epoch_step, epochs=config.epochs, patience=config.patience,
                          validate=distributed.main_decides(validate) if validate is not None else None,
                          progress=config.progress)
