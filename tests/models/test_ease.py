"""EASE against an independent dense float64 EASE, on random data and on ml-100k.

The reference below is Steck's (WWW 2019) closed form written from the paper with
``np.linalg.inv`` in float64; the library's EASE uses float32 Cholesky (potrf/potri).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from movierec.data import IdMap, to_csr
from movierec.evaluate import evaluate
from movierec.exceptions import ConfigError, DataError
from movierec.models.dlae import DLAE
from movierec.models.ease import EASE
from movierec.split import SplitSpec, read_split
from tests.synthetic import random_binary, timed_matrix


def dense_ease(X: sp.spmatrix, l2: float) -> np.ndarray:
    """B = I - P diagMat(1 / diag(P)), P = (X^T X + l2 I)^-1 (Steck 2019, eq. 8)."""
    dense = np.asarray(X.todense(), dtype=np.float64)
    P = np.linalg.inv(dense.T @ dense + l2 * np.eye(dense.shape[1]))
    B = -P / np.diag(P)[np.newaxis, :]
    np.fill_diagonal(B, 0.0)
    return B


def test_weights_equal_the_dense_reference():
    X = random_binary(200, 60, 0.1, seed=0)
    model = EASE(l2=20.0).fit(X)
    assert model.B_.dtype == np.float32
    assert np.all(np.diag(model.B_) == 0.0)
    np.testing.assert_allclose(model.B_, dense_ease(X, 20.0), atol=2e-5)
    users = np.arange(10)
    np.testing.assert_allclose(model.score(users), X[users].toarray() @ dense_ease(X, 20.0), atol=1e-4)


def test_refit_after_an_in_place_change_of_the_values_uses_the_new_values():
    """The Gram cache must notice X.data changing while X's structure stays."""
    X = random_binary(100, 30, 0.2, seed=3)
    EASE(l2=5.0).fit(X)
    X.data[:] = 2.0
    np.testing.assert_allclose(EASE(l2=5.0).fit(X).B_, dense_ease(X, 5.0), atol=2e-5)


def test_max_items_equals_the_reference_on_the_most_popular_columns():
    """EASE on the 20 most interacted of 60 items = the dense EASE of those columns;
    the other 40 items score -inf for fitted and folded-in users alike."""
    X = random_binary(300, 60, 0.1, seed=4)
    counts = np.diff(X.tocsc().indptr)
    top = np.sort(np.argsort(-counts, kind="stable")[:20])
    model = EASE(l2=10.0, max_items=20).fit(X)
    users = np.arange(25)
    scores = model.score(users)
    expected = X[users][:, top].toarray() @ dense_ease(X[:, top], 10.0)
    np.testing.assert_allclose(scores[:, top], expected, atol=1e-4)
    rest = np.setdiff1d(np.arange(60), top)
    assert np.isneginf(scores[:, rest]).all()
    np.testing.assert_allclose(model.score_history(X[users]), scores, atol=1e-6)


def test_fold_in_of_an_unseen_user_equals_a_fitted_user_with_that_history():
    """User 0 was fitted with history h; a user never seen at fit time with the same h
    (given as a bare history row) gets the same scores."""
    X = random_binary(120, 40, 0.15, seed=1)
    model = EASE(l2=10.0).fit(X)
    history = sp.csr_matrix(X[[0, 5]].toarray())  # a fresh matrix, not a view of X_
    np.testing.assert_allclose(model.score_history(history), model.score(np.array([0, 5])), rtol=1e-6)
    stranger = sp.csr_matrix(np.eye(1, 40, 7, dtype=np.float32))  # only item 7
    np.testing.assert_allclose(model.score_history(stranger)[0], model.B_[7], rtol=1e-6)
    with pytest.raises(DataError, match="39 item columns"):
        model.score_history(sp.csr_matrix((1, 39), dtype=np.float32))


@pytest.mark.parametrize("model", [EASE(l2=10.0), EASE(l2=10.0, max_items=25), EASE(l2=10.0, recency_decay=0.8),
                                   DLAE(l2=10.0, dropout=0.3)], ids=["ease", "max-items", "recency", "dlae"])
def test_contributions_are_the_terms_of_each_score(model):
    """Per watched item, its weight times B's entry: summed over the history they give
    the score, for a fitted user and for a history alike; an item outside B adds nothing."""
    X, times, _ = timed_matrix(n_users=60, n_items=40, per_user=10, seed=5)
    model.fit(X, timestamps=times)
    items = np.arange(40)
    for user in (0, 17):
        watched, parts = model.contributions(items, user=user)
        assert watched.tolist() == X[user].indices.tolist() and parts.shape == (10, 40)
        scores = model.score(np.array([user]))[0]
        fitted = np.isfinite(scores)
        np.testing.assert_allclose(parts.sum(axis=0)[fitted], scores[fitted], atol=1e-5)
        assert not parts[:, ~fitted].any()
    watched, parts = model.contributions(items[::-1], history=X[3], timestamps=times[3])
    np.testing.assert_allclose(parts.sum(axis=0), np.nan_to_num(model.score_history(X[3], times[3])[0][::-1],
                                                                  neginf=0.0), atol=1e-5)
    with pytest.raises(ConfigError, match="give user .* or history"):
        model.contributions(items)
    with pytest.raises(DataError, match="the history has 2 rows"):
        model.contributions(items, history=X[:2])
    with pytest.raises(DataError, match="user indices must lie"):
        model.contributions(items, user=60)


def test_invalid_l2_is_a_data_error():
    with pytest.raises(ConfigError, match="l2 > 0"):
        EASE(l2=0.0).fit(random_binary(10, 5, 0.5, seed=2))


def test_non_sparse_input_is_a_data_error():
    with pytest.raises(DataError, match="scipy sparse"):
        EASE().fit(np.ones((3, 3)))


# ---- ml-100k -----------------------------------------------------------------------------


def _matrices(split) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    every = pd.concat([split.train, split.valid, split.test])
    idmap = IdMap.from_ids(every["user"], every["item"])
    return tuple(to_csr(frame, idmap) for frame in (split.train, split.valid, split.test))


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "anchor"), [("ml100k-mixed-s0", 0.2957), ("ml100k-random-s0", 0.3472)])
def test_ml100k_recall_equals_the_dense_reference(splits_dir, name, anchor):
    """Fixed splits, no refit: fit on train, rank for test with train+valid masked.

    The anchors are ../shared/anchors.md's dense numpy EASE figures (lambda 300).
    """
    train, valid, test = _matrices(read_split(splits_dir / name))
    known = (train + valid).tocsr()
    ours = evaluate(EASE(l2=300.0).fit(train).score, test, exclude=known)["recall@10"]
    B = dense_ease(train, 300.0)
    reference = evaluate(lambda users: train[users].toarray() @ B, test, exclude=known)["recall@10"]
    assert abs(ours - reference) <= 0.002, (ours, reference)
    assert abs(reference - anchor) <= 0.002, (reference, anchor)


@pytest.fixture(scope="module")
def ml100k(data_dir) -> pd.DataFrame:
    from movierec.data.readers import read_dataset

    return read_dataset(data_dir / "ml-100k").interactions


# (protocol, refit) -> EASE and popularity test Recall@10 through `movierec run` (seed 0;
# EASE's l2 by golden section and recency decay picked on validation): the table of docs/results.md
PROTOCOL_FIGURES = {
    ("competition", True): (0.3283, 0.1471), ("competition", False): (0.3116, 0.1484),
    ("random", True): (0.3460, 0.1515), ("random", False): (0.3376, 0.1507),
    ("temporal", True): (0.1967, 0.0817), ("temporal", False): (0.1755, 0.0822),
}


@pytest.mark.realdata
@pytest.mark.parametrize("refit", [True, False], ids=["refit", "no-refit"])
@pytest.mark.parametrize("protocol", ["competition", "random", "temporal"])
def test_ml100k_ease_reproduces_the_protocol_table(data_dir, tmp_path, protocol, refit):
    from movierec.config import RunConfig
    from movierec.pipeline import run

    config = RunConfig(data="ml-100k", data_dir=str(data_dir), split=SplitSpec(protocol=protocol, seed=0),
                       models=("pop", "ease"), refit=refit, out=str(tmp_path))
    result = run(config, log=lambda message: None)
    ease, popularity = (result.results[name].test["recall@10"] for name in ("ease", "pop"))
    assert (ease, popularity) == pytest.approx(PROTOCOL_FIGURES[(protocol, refit)], abs=0.0005)
    assert ease >= 2.0 * popularity
    if protocol != "temporal":  # validation keeps the plain history where the hold-out is not a tail
        assert result.results["ease"].params["recency_decay"] == 1.0
