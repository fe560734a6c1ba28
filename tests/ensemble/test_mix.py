"""Per-user mixes (movierec.ensemble.mix): traits, buckets, slot filling and its guard."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.data.interactions import csr_from_indices
from movierec.ensemble.mix import bucket_edges, buckets_of, guarded_slots, slot_scores, tune_slots, user_traits
from movierec.exceptions import ConfigError
from movierec.ranking import top_k


def test_traits_by_hand():
    """user 0: items at days 0 and 40; user 1: one item at day 39 (now = day 40)."""
    X = csr_from_indices(np.array([0, 0, 1]), np.array([0, 2, 1]), (2, 3))
    times = np.array([0.0, 40.0, 39.0]) * 86_400  # parallel to X.data: (0,0), (0,2), (1,1)
    assert user_traits(X, times, "history_length").tolist() == [2.0, 1.0]
    np.testing.assert_allclose(user_traits(X, times, "days_since_last"), [0.0, 1.0])
    np.testing.assert_allclose(user_traits(X, times, "recent_share"), [0.5, 1.0])
    assert user_traits(X, None, "days_since_last").tolist() == [0.0, 0.0]
    with pytest.raises(ConfigError, match="bucket trait"):
        user_traits(X, times, "age")


def test_buckets_cut_at_quantiles():
    values = np.arange(9.0)
    edges = bucket_edges(values, 3)
    assert buckets_of(values, edges).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert len(bucket_edges(np.ones(10), 3)) == 1  # ties collapse edges


def test_slot_filling_takes_n_from_the_first_then_the_second():
    rng = np.random.default_rng(0)
    first, second = rng.random((5, 12)), rng.random((5, 12))
    first[:, 0] = second[:, 1] = -np.inf  # excluded by one member only
    for n in (0, 3, 10):
        items, _ = top_k(slot_scores(first, second, n), 10)
        top_first, _ = top_k(first, n)
        assert (items[:, :n] == top_first).all()
        for row in range(5):
            rest = [item for item in top_k(second[row:row + 1], 12)[0][0] if item not in top_first[row]]
            assert items[row, n:].tolist() == rest[: 10 - n]


def test_tuned_slots_follow_the_better_member_per_place():
    """Truth: each user's item 0 (the first member's best) and item 5 (the second's)."""
    n_users, n_items = 60, 8
    first = np.tile(np.arange(n_items, 0, -1, dtype=float), (n_users, 1))  # ranks 0, 1, 2, ...
    second = np.tile(np.roll(np.arange(n_items, 0, -1, dtype=float), 5), (n_users, 1))  # ranks 5, 6, 7, 0, ...
    truth = csr_from_indices(np.repeat(np.arange(n_users), 2), np.tile([0, 5], n_users), (n_users, n_items))
    n, recalls = tune_slots(first, second, sp.csr_matrix(truth), k=2)
    assert n == 1 and recalls[1].mean() == 1.0 and recalls[0].mean() == recalls[2].mean() == 0.5
    kept, gain, se = guarded_slots(first, second, sp.csr_matrix(truth), 2, margin=1.0, seed=0)
    assert kept == 1 and gain == pytest.approx(0.5)
    alone, _, _ = guarded_slots(first, first, sp.csr_matrix(truth), 2, margin=1.0, seed=0)
    assert alone in (0, 2)  # identical members: no detectable gain, one member alone
