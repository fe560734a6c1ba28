"""RecVAE (movierec.models.torch.recvae): prior and loss by hand, alternation (shared behaviour: test_autoencoder)."""

from __future__ import annotations

import math

import pytest
import torch

from movierec.models.torch.recvae import (
    PRIOR_WEIGHTS,
    WIDE_LOGVAR,
    RecVAE,
    RecVAEModule,
    log_normal,
    recvae_loss,
)
from tests.synthetic import random_binary

SMALL = {"hidden": 16, "latent": 4, "epochs": 4, "batch_size": 16, "device": "cpu"}


def _normal_pdf(z: float, mu: float, var: float) -> float:
    return math.exp(-((z - mu) ** 2) / (2 * var)) / math.sqrt(2 * math.pi * var)


def test_log_normal_by_hand():
    value = log_normal(torch.tensor([1.5]), torch.tensor([0.5]), torch.tensor([math.log(2.0)]))
    assert float(value) == pytest.approx(math.log(_normal_pdf(1.5, 0.5, 2.0)), rel=1e-6)


def test_composite_prior_is_the_weighted_mixture():
    torch.manual_seed(0)
    module = RecVAEModule(6, hidden=8, latent=3)
    rows = torch.tensor([[1.0, 0, 1, 0, 0, 1]])
    z = torch.tensor([[0.3, -1.2, 2.0]])
    with torch.no_grad():
        previous_mu, previous_logvar = module.previous(rows, 0.0)
        got = module.log_prior(rows, z)
    for d in range(3):
        density = (PRIOR_WEIGHTS[0] * _normal_pdf(float(z[0, d]), 0.0, 1.0)
                   + PRIOR_WEIGHTS[1] * _normal_pdf(float(z[0, d]), float(previous_mu[0, d]),
                                                   math.exp(float(previous_logvar[0, d])))
                   + PRIOR_WEIGHTS[2] * _normal_pdf(float(z[0, d]), 0.0, math.exp(WIDE_LOGVAR)))
        assert float(got[0, d]) == pytest.approx(math.log(density), rel=1e-5)


def test_loss_weights_the_kl_by_history_length():
    """In eval mode z = mu: the loss is -loglik + gamma * |x| * (log q(mu) - log p(mu))."""
    torch.manual_seed(0)
    module = RecVAEModule(5, hidden=8, latent=2).eval()
    rows = torch.tensor([[1.0, 1, 0, 0, 0], [0, 0, 1, 1, 1]])
    with torch.no_grad():
        logits, z, mu, logvar = module(rows)
        likelihood = (torch.log_softmax(logits, 1) * rows).sum(1)
        kl = (log_normal(z, mu, logvar) - module.log_prior(rows, z)).sum(1)
        expected = (-likelihood + 0.1 * rows.sum(1) * kl).mean()
        assert float(recvae_loss(module, rows, gamma=0.1)) == pytest.approx(float(expected), rel=1e-6)
        assert float(recvae_loss(module, rows, gamma=0.0)) == pytest.approx(float(-likelihood.mean()), rel=1e-6)


def test_each_epoch_the_prior_takes_the_encoder():
    model = RecVAE(**SMALL | {"epochs": 2}).fit(random_binary(50, 30, density=0.3))
    for key, value in model.module_.encoder.state_dict().items():
        torch.testing.assert_close(model.module_.previous.state_dict()[key], value)
