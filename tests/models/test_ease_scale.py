"""EASE's large-catalogue machinery: block inverse, blocked Gram, Gram cache, max_items.

Each piece is checked against the plain formula on small random matrices, with the
block sizes lowered so that the recursion and the blocking are really exercised.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.exceptions import ConfigError
from movierec.models import ease as ease_module
from movierec.models.ease import (
    EASE,
    GRAM_CACHE,
    ease_weights,
    gram,
    spd_inverse,
    top_items,
)
from tests.synthetic import random_binary


@pytest.mark.parametrize("potrf_max", [None, 16])
@pytest.mark.parametrize("n", [7, 33, 100])
def test_cholesky_inverse_equals_the_float64_inverse(monkeypatch, n: int, potrf_max: int | None) -> None:
    monkeypatch.setattr(ease_module, "MIRROR_TILE", 16)  # several tiles, a ragged last one
    if potrf_max is not None:  # factored in blocks, as above OpenBLAS's threaded potrf's limit
        monkeypatch.setattr(ease_module, "POTRF_MAX", potrf_max)
    X = random_binary(3 * n, n, 0.2, seed=n)
    A = (X.T @ X).toarray().astype(np.float32) + 5 * np.eye(n, dtype=np.float32)
    expected = np.linalg.inv(A.astype(np.float64))
    result = ease_module.spd_inverse(A.copy())
    np.testing.assert_allclose(result, expected, atol=1e-5 * np.abs(expected).max())
    np.testing.assert_array_equal(result, result.T)  # one triangle computed, the other its mirror


def test_the_inverse_works_in_place_and_rejects_an_indefinite_matrix(monkeypatch) -> None:
    A = np.diag(np.arange(1.0, 41.0)).astype(np.float32)
    monkeypatch.setattr(ease_module, "MIRROR_TILE", 7)  # several tiles, a ragged last one
    out = ease_module.spd_inverse(A)
    assert out is A
    np.testing.assert_allclose(np.diag(A), 1.0 / np.arange(1.0, 41.0), rtol=1e-6)
    indefinite = np.diag(np.r_[np.ones(20), -np.ones(20)]).astype(np.float32)
    with pytest.raises(ConfigError, match="positive definite"):
        spd_inverse(indefinite.copy())
    monkeypatch.setattr(ease_module, "POTRF_MAX", 8)  # the failing minor lies in the third block
    with pytest.raises(ConfigError, match=r"info=21\)"):
        spd_inverse(indefinite)


def test_blocked_gram_equals_the_sparse_product(monkeypatch) -> None:
    X = random_binary(300, 70, 0.1, seed=4)
    monkeypatch.setattr(ease_module, "GRAM_COLUMN_BLOCK", 16)
    np.testing.assert_array_equal(gram(X), (X.T @ X).toarray())


def test_ease_weights_overwrite_reuses_the_buffer() -> None:
    X = random_binary(200, 50, 0.1, seed=5)
    G = gram(X)
    copy = ease_weights(G, 10.0)
    assert not np.shares_memory(copy, G)
    np.testing.assert_array_equal(G, gram(X))  # untouched
    same = ease_weights(G, 10.0, overwrite=True)
    assert same is G
    np.testing.assert_allclose(same, copy, rtol=1e-6, atol=1e-7)


def test_gram_is_computed_once_per_training_matrix(monkeypatch) -> None:
    X = random_binary(150, 40, 0.1, seed=6)
    calls = []
    real = ease_module.gram
    monkeypatch.setattr(ease_module, "gram", lambda M: calls.append(1) or real(M))
    GRAM_CACHE.clear()
    first = EASE(l2=5.0).fit(X)
    second = EASE(l2=50.0).fit(X)
    assert len(calls) == 1
    assert not np.allclose(first.B_, second.B_)
    # a new but equal object: updated from the cache with an empty difference
    copy = X.copy()
    np.testing.assert_allclose(second.B_, EASE(l2=50.0).fit(copy).B_, rtol=1e-6)
    assert len(calls) == 1
    EASE(l2=5.0).fit(X)
    X.data[:3] = 0.0  # the cached object changed in place: its checksum no longer matches
    X.eliminate_zeros()
    EASE(l2=5.0).fit(X)
    assert len(calls) == 2
    GRAM_CACHE.clear()


def test_max_items_fits_the_top_items_and_never_recommends_the_rest() -> None:
    X = random_binary(300, 60, 0.1, seed=7)
    top = top_items(X, 25)
    counts = np.diff(X.tocsc().indptr)
    assert len(top) == 25 and counts[top].min() >= np.delete(counts, top).max()
    model = EASE(l2=10.0, max_items=25).fit(X)
    assert model.B_.shape == (25, 25)
    users = np.arange(20)
    scores = model.score(users)
    assert scores.shape == (20, 60)
    rest = np.setdiff1d(np.arange(60), top)
    assert np.all(scores[:, rest] == -np.inf)
    reference = EASE(l2=10.0).fit(sp.csr_matrix(X[:, top]))
    np.testing.assert_allclose(scores[:, top], reference.score(users), rtol=1e-5, atol=1e-6)
    items, _ = model.recommend(users, k=10)
    assert np.isin(items, top).all()
    np.testing.assert_allclose(model.score_history(X[users]), scores, rtol=1e-6)
    # more than the catalogue is the plain model
    assert EASE(l2=10.0, max_items=1000).fit(X).items_ is None
    with pytest.raises(ConfigError, match="max_items"):
        EASE(max_items=0).fit(X)


def test_gram_of_a_grown_matrix_is_updated_not_recomputed(monkeypatch) -> None:
    """Refit on train + valid after tuning on train: G + X_old^T D + D^T X_new, in column blocks."""
    monkeypatch.setattr(ease_module, "GRAM_COLUMN_BLOCK", 16)  # 50 items: a ragged last block
    train = random_binary(200, 50, 0.1, seed=9)
    extra = random_binary(200, 50, 0.03, seed=10)
    grown = sp.csr_matrix(((train + extra) > 0).astype(np.float32))
    calls = []
    real = ease_module.gram
    monkeypatch.setattr(ease_module, "gram", lambda M: calls.append(1) or real(M))
    GRAM_CACHE.clear()
    EASE(l2=5.0).fit(train)
    refit = EASE(l2=5.0).fit(grown)
    assert len(calls) == 1  # the second Gram came from the update
    np.testing.assert_array_equal(GRAM_CACHE.matrix, (grown.T @ grown).toarray())
    GRAM_CACHE.clear()
    np.testing.assert_allclose(refit.B_, EASE(l2=5.0).fit(grown.copy()).B_, rtol=1e-5, atol=1e-6)
    assert len(calls) == 2
    # a matrix that shares little with the cached one is computed afresh
    EASE(l2=5.0).fit(random_binary(200, 50, 0.1, seed=11))
    assert len(calls) == 3
    GRAM_CACHE.clear()
