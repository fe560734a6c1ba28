"""Negative samplers: never return a seen item, are seeded, follow their distribution.

Fixture (4 users x 6 items)::

    user 0: items 0 1 2 3 4   (one unseen item: 5)
    user 1: item 0
    user 2: items 1 3
    user 3: -
"""

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.exceptions import DataError
from movierec.sampling import popularity_negatives, uniform_negatives
from movierec.sampling.negatives import is_seen, seen_keys

ROWS = [0, 0, 0, 0, 0, 1, 2, 2]
COLS = [0, 1, 2, 3, 4, 0, 1, 3]


@pytest.fixture
def X():
    return sp.csr_matrix((np.ones(len(ROWS), np.float32), (ROWS, COLS)), shape=(4, 6))


@pytest.mark.parametrize("sampler", [uniform_negatives, popularity_negatives])
def test_never_returns_seen_items(X, sampler):
    users = np.repeat(np.arange(4), 500)
    negatives = sampler(X, users, 3, np.random.default_rng(1))
    assert negatives.shape == (2000, 3)
    dense = X.toarray()
    assert not dense[users[:, None], negatives].any()
    assert (negatives[users == 0] == 5).all()  # user 0's only unseen item


@pytest.mark.parametrize("sampler", [uniform_negatives, popularity_negatives])
def test_seeded(X, sampler):
    users = np.arange(4).repeat(10)
    first = sampler(X, users, 2, np.random.default_rng(7))
    again = sampler(X, users, 2, np.random.default_rng(7))
    other = sampler(X, users, 2, np.random.default_rng(8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_uniform_is_uniform_over_unseen(X):
    negatives = uniform_negatives(X, np.full(60000, 3), 1, np.random.default_rng(0)).ravel()
    shares = np.bincount(negatives, minlength=6) / len(negatives)
    np.testing.assert_allclose(shares, 1 / 6, atol=0.01)


def test_popularity_prefers_popular_items(X):
    # user 3 has seen nothing; item 0 and 1 and 3 have two positives, 5 none
    negatives = popularity_negatives(X, np.full(60000, 3), 1, np.random.default_rng(0), alpha=1.0).ravel()
    shares = np.bincount(negatives, minlength=6) / len(negatives)
    counts = np.asarray(X.sum(axis=0)).ravel() + 1
    np.testing.assert_allclose(shares, counts / counts.sum(), atol=0.01)


def test_user_who_saw_everything_is_an_error():
    X = sp.csr_matrix(np.ones((2, 3), np.float32))
    with pytest.raises(DataError, match="seen all 3 items"):
        uniform_negatives(X, np.array([1]), 1, np.random.default_rng(0))


def test_membership_keys(X):
    keys = seen_keys(X)
    users = np.array([0, 0, 1, 3, 2])
    items = np.array([4, 5, 0, 0, 3])
    assert is_seen(keys, users, items, 6).tolist() == [True, False, True, False, True]


def test_nearly_full_users_finish(X):
    # user 0 has one unseen item of six; thousands of draws must all land on it
    negatives = uniform_negatives(X, np.zeros(5000, np.int64), 4, np.random.default_rng(3))
    assert (negatives == 5).all()
