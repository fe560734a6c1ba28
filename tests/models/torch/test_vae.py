"""Mult-VAE (movierec.models.torch.vae): loss by hand (shared behaviour: test_autoencoder)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from movierec.models.torch.vae import vae_loss


def test_loss_by_hand():
    logits = torch.tensor([[0.0, np.log(3.0)]])  # softmax (1/4, 3/4)
    rows = torch.tensor([[1.0, 1.0]])
    mu, logvar = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, np.log(2.0)]])
    kl = 0.5 * 1.0 + (-0.5) * (1 + np.log(2.0) - 2.0)  # per dimension: -(1 + logvar - mu^2 - e^logvar) / 2
    expected = -(np.log(0.25) + np.log(0.75)) + 0.5 * kl
    assert float(vae_loss(logits, rows, mu, logvar, beta=0.5)) == pytest.approx(expected, rel=1e-6)
