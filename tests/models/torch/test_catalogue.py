"""Training against the whole catalogue: the sampled pairs' loss in expectation, and FM trained on it."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from movierec.evaluate import evaluate
from movierec.exceptions import ConfigError
from movierec.models.torch.catalogue import expected_loss, item_probabilities
from movierec.models.torch.fm import FM
from movierec.models.torch.pairs import TrainConfig
from movierec.sampling import PositiveSampler, popularity_negatives, uniform_negatives

from .test_models import BLOCK, FEATURES, N_USERS, TEST, TRAIN, VALID


def small_matrix(seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = (rng.random((6, 12)) < 0.3).astype(np.float32)
    dense[np.arange(6), np.arange(6)] = 1  # every user has a positive
    return sp.csr_matrix(dense)


@pytest.mark.parametrize("negatives", ["uniform", "popularity"])
@pytest.mark.parametrize("balance", [0.0, 0.5])
def test_expected_loss_is_the_mean_of_the_sampled_loss(negatives, balance):
    X = small_matrix()
    n_negatives, epochs = 3, 4000
    scores = torch.as_tensor(np.random.default_rng(1).normal(size=X.shape), dtype=torch.float32)
    config = TrainConfig(negatives=negatives, n_negatives=n_negatives, positive_balance=balance, loss="bce")
    sampler = PositiveSampler(X, balance=balance)
    counts = np.diff(X.indptr)
    draws = torch.as_tensor(sampler.draws_per_user / counts if balance else np.ones(X.shape[0]), dtype=torch.float32)
    probabilities = torch.as_tensor(item_probabilities(X, config), dtype=torch.float32)
    loss, appearances = expected_loss(scores, X, draws, probabilities, n_negatives)

    rng = np.random.default_rng(2)
    sampled, seen = 0.0, np.zeros(X.shape[1])
    for _ in range(epochs):
        users, positives = sampler.epoch(rng)
        draw = uniform_negatives if negatives == "uniform" else popularity_negatives
        negative = draw(X, users, n_negatives, rng)
        sampled += float(F.softplus(-scores[users, positives]).sum() + F.softplus(scores[users[:, None], negative]).sum())
        seen += np.bincount(np.concatenate([positives, negative.ravel()]), minlength=X.shape[1])
    assert float(loss) == pytest.approx(sampled / epochs, rel=0.01)
    np.testing.assert_allclose(appearances.numpy(), seen / epochs, rtol=0.03)


def test_expected_loss_weights_unseen_items_as_uniform_draws_would():
    X = small_matrix()
    n_items = X.shape[1]
    probabilities = torch.full((n_items,), 1.0 / n_items)
    scores = torch.zeros(X.shape)
    _, appearances = expected_loss(scores, X, torch.ones(X.shape[0]), probabilities, 4)
    counts = np.diff(X.indptr)
    weights = 4 * counts / (n_items - counts)  # per unseen item of each user
    expected = np.asarray(X.sum(0)).ravel() + ((1 - X.toarray()) * weights[:, None]).sum(0)
    np.testing.assert_allclose(appearances.numpy(), expected, rtol=1e-5)


FAST_CATALOGUE = {"dim": 8, "epochs": 60, "lr": 0.03, "batch_size": 8, "reg": 0.0, "training": "catalogue",
                  "device": "cpu"}


def test_fm_trained_on_the_catalogue_learns_the_planted_blocks():
    model = FM(**FAST_CATALOGUE).fit(TRAIN, features=FEATURES, valid=VALID)
    items, _ = model.recommend(np.arange(N_USERS), k=2)
    assert ((items // BLOCK) == (np.arange(N_USERS)[:, None] // (N_USERS // 2))).mean() >= 0.9
    assert model.train_result_.best_recall > 0.3
    assert {"loss", "train_seconds"} <= set(model.train_result_.history[0])
    recall = evaluate(model.score, TEST, exclude=TRAIN + VALID, k=2)["recall@2"]
    assert recall >= 0.3  # random within the block ~0.5, across blocks ~0.1


def test_fm_trained_on_the_catalogue_is_seeded():
    scores = [FM(**FAST_CATALOGUE | {"epochs": 5, "random_state": seed}).fit(TRAIN, features=FEATURES)
              .score(np.arange(N_USERS)) for seed in (0, 0, 1)]
    np.testing.assert_array_equal(scores[0], scores[1])
    assert not np.allclose(scores[0], scores[2])


@pytest.mark.parametrize(("params", "message"), [({"training": "catalogue", "loss": "bpr"}, "takes loss 'bce'"),
                                                 ({"training": "epochs"}, "training must be one of")])
def test_bad_training_settings_are_config_errors(params, message):
    with pytest.raises(ConfigError, match=message):
        FM(**params, epochs=1, device="cpu").fit(TRAIN)
