"""Positive resampling toward user balance.

Fixture: user 0 has 90 positives, user 1 has 10, user 2 none::

    user 0: items 0..89
    user 1: items 0..9
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from movierec.exceptions import ConfigError
from movierec.sampling import PositiveSampler, oversample_positives, positive_pairs


@pytest.fixture
def X():
    rows = np.r_[np.zeros(90, int), np.ones(10, int)]
    cols = np.r_[np.arange(90), np.arange(10)]
    return sp.csr_matrix((np.ones(100, np.float32), (rows, cols)), shape=(3, 100))


def test_plain_epoch_is_a_permutation_of_positives(X):
    users, items = PositiveSampler(X).epoch(np.random.default_rng(0))
    expected = set(zip(*positive_pairs(X)))
    assert len(users) == 100 and set(zip(users.tolist(), items.tolist())) == {
        (int(u), int(i)) for u, i in expected
    }


def test_full_balance_equalises_users(X):
    sampler = PositiveSampler(X, balance=1.0)
    users, items = sampler.epoch(np.random.default_rng(0))
    assert np.bincount(users, minlength=3).tolist() == [50, 50, 0]
    assert X[users, items].A1.all()  # every draw is a real positive


def test_partial_balance_sits_between(X):
    users, _ = PositiveSampler(X, balance=0.5).epoch(np.random.default_rng(0))
    share_light = np.mean(users == 1)
    assert 0.1 < share_light < 0.5
    assert abs(len(users) - 100) <= 2


def test_seeded(X):
    a = PositiveSampler(X, balance=0.5).epoch(np.random.default_rng(4))
    b = PositiveSampler(X, balance=0.5).epoch(np.random.default_rng(4))
    np.testing.assert_array_equal(a[1], b[1])


def test_bad_balance(X):
    with pytest.raises(ConfigError, match="balance"):
        PositiveSampler(X, balance=1.5)


def test_oversampled_positives_repeat_in_place_by_hand():
    frame = pd.DataFrame({"group": [0, 0, 1], "row": ["a", "b", "c"]})
    more, labels = oversample_positives(frame, np.array([False, True, True]), 2)
    assert more["row"].tolist() == ["a", "b", "b", "c", "c"] and labels.tolist() == [False, True, True, True, True]
    assert oversample_positives(frame, np.array([True, False, False]), 1)[0] is frame
    with pytest.raises(ConfigError, match="oversampling"):
        oversample_positives(frame, np.array([True, False, False]), 0)
