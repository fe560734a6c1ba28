"""DLAE against its closed form written out in float64, and on ml-100k."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.evaluate import evaluate
from movierec.exceptions import ConfigError
from movierec.models.dlae import DLAE
from tests.synthetic import random_binary


def dense_dlae(X: sp.spmatrix, l2: float, dropout: float) -> np.ndarray:
    """Steck 2020, eq. for the full-rank DLAE: B = (G + L)^-1 G, L = diag(l2 + p/(1-p) g_jj)."""
    dense = np.asarray(X.todense(), dtype=np.float64)
    G = dense.T @ dense
    penalty = np.diag(l2 + dropout / (1 - dropout) * np.diag(G))
    return np.linalg.solve(G + penalty, G)


def _random(seed=0, shape=(80, 40)):
    return random_binary(*shape, density=0.2, seed=seed)


@pytest.mark.parametrize(("l2", "dropout"), [(5.0, 0.0), (5.0, 0.5), (1.0, 0.8)])
def test_weights_equal_the_dense_closed_form(l2, dropout):
    X = _random()
    np.testing.assert_allclose(DLAE(l2=l2, dropout=dropout).fit(X).B_, dense_dlae(X, l2, dropout), atol=2e-5)


def test_fold_in_scores_like_a_fitted_user():
    X = _random(1)
    model = DLAE(l2=3.0, dropout=0.5).fit(X)
    np.testing.assert_allclose(model.score_history(X[[4, 9]]), model.score(np.array([4, 9])), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [{"l2": 0.0}, {"dropout": 1.0}, {"dropout": -0.1}, {"recency_decay": 0.0}])
def test_bad_parameters_are_named(bad):
    with pytest.raises(ConfigError, match="l2|dropout|recency"):
        DLAE(**bad).fit(_random())


@pytest.mark.realdata
@pytest.mark.parametrize("l2, dropout", [(500.0, 0.25), (150.0, 0.5)])
def test_ml100k_equals_a_dense_float64_reference(splits_dir, l2, dropout):
    """The closed form written out densely in float64 (Steck 2020, eq. 9): the same
    lists, and the same Recall@10 to 1e-4 (float32 ties aside), on the mixed split."""
    from movierec.split import EncodedSplit, read_split

    data = EncodedSplit(read_split(splits_dir / "ml100k-mixed-s0"))
    train = data.train.toarray().astype(np.float64)
    gram = train.T @ train
    penalty = l2 + dropout / (1.0 - dropout) * np.diag(gram)
    B = np.eye(len(gram)) - np.linalg.inv(gram + np.diag(penalty)) * penalty[np.newaxis, :]
    ours = DLAE(l2=l2, dropout=dropout).fit(data.train)
    users = np.arange(data.train.shape[0])
    np.testing.assert_allclose(ours.score(users), train @ B, rtol=1e-3, atol=1e-4)
    reference = evaluate(lambda rows: train[rows] @ B, data.test, exclude=data.train_valid)["recall@10"]
    assert evaluate(ours.score, data.test, exclude=data.train_valid)["recall@10"] == pytest.approx(reference, abs=1e-4)
