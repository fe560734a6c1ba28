"""What Mult-VAE and RecVAE share (movierec.models.torch.autoencoder): fold-in, seeds, early stopping."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.models.torch.recvae import RecVAE
from movierec.models.torch.vae import MultVAE

SMALL = {"hidden": 16, "latent": 4, "batch_size": 16, "device": "cpu"}
AUTOENCODERS = [pytest.param(MultVAE, {"epochs": 6}, id="multvae"), pytest.param(RecVAE, {"epochs": 4}, id="recvae")]


def _random(seed: int = 0) -> sp.csr_matrix:
    X = sp.random(50, 30, density=0.3, format="csr", random_state=seed, dtype=np.float32)
    X.data[:] = 1.0
    return X


@pytest.mark.parametrize("model_class, params", AUTOENCODERS)
def test_fold_in_scores_like_the_fitted_user_and_seeds_repeat(model_class, params):
    X = _random()
    model = model_class(**SMALL | params).fit(X)
    np.testing.assert_allclose(model.score_history(X[[3, 7]]), model.score(np.array([3, 7])), rtol=1e-6)
    again = model_class(**SMALL | params).fit(X)
    np.testing.assert_array_equal(model.score(np.arange(10)), again.score(np.arange(10)))


@pytest.mark.parametrize("model_class, params", AUTOENCODERS)
def test_early_stopping_keeps_the_best_epoch(model_class, params):
    X, valid = _random(1), _random(2)
    valid = sp.csr_matrix(valid - valid.multiply(X))  # hidden items the history does not hold
    model = model_class(**SMALL | {"epochs": 12, "patience": 3}).fit(X, valid=valid)
    recalls = [record["recall@10"] for record in model.train_result_.history]
    assert model.best_epoch_ == 1 + int(np.argmax(recalls)) and model.refit_params() == {"epochs": model.best_epoch_}
    assert len(recalls) == 12 or len(recalls) - model.best_epoch_ == 3
    # the kept weights are the best epoch's: scoring valid again gives its recall
    from movierec.models.torch.common import validation_recall

    again = validation_recall(model.score, valid, X, max_users=model.max_valid_users, seed=model.random_state)
    assert again == pytest.approx(max(recalls))
