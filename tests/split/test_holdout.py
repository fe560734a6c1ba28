"""The per-user hold-out rule (movierec.split.holdout), on frames and on matrices."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.data.interactions import csr_from_indices
from movierec.exceptions import ConfigError, DataError
from movierec.split.holdout import hold_out, holdout_matrix
from tests.synthetic import timed_matrix


def test_holdout_matrix_sizes_disjoint_and_latest_items():
    X, T, cols = timed_matrix()
    history, holdout, history_times = holdout_matrix(X, timestamps=T, tail=2, fraction=0.1, seed=0)
    assert abs(history + holdout - X).max() == 0
    assert history.multiply(holdout).nnz == 0
    # 12 items: the last 2 in time plus round(0.1 * 10) = 1 earlier one
    assert np.diff(holdout.indptr).tolist() == [3] * 30
    latest = cols[:, -2:]
    held = holdout.toarray().astype(bool)
    assert np.take_along_axis(held, latest, axis=1).all(), "the two latest items are held out"
    assert history_times.nnz == history.nnz
    np.testing.assert_array_equal(history_times.indices, history.indices)
    # each kept time is the time of that (user, item) in T
    np.testing.assert_array_equal(history_times.data, np.asarray(T[history.nonzero()]).ravel())


def test_holdout_matrix_is_seeded_and_keeps_one_item():
    X, _, _ = timed_matrix()
    a = holdout_matrix(X, tail=0, fraction=0.5, seed=3)[1]
    b = holdout_matrix(X, tail=0, fraction=0.5, seed=3)[1]
    c = holdout_matrix(X, tail=0, fraction=0.5, seed=4)[1]
    assert (a != b).nnz == 0 and (a != c).nnz > 0
    single = csr_from_indices(np.array([0, 1, 1]), np.array([2, 0, 1]), (2, 3))
    history, holdout, times = holdout_matrix(single, tail=5, fraction=0.9, seed=0)
    assert np.diff(history.indptr).tolist() == [1, 1] and times is None


def test_holdout_matrix_rejects_misaligned_timestamps_and_bad_rules():
    X, T, _ = timed_matrix()
    with pytest.raises(DataError, match="non-zeros of X"):
        holdout_matrix(X, timestamps=T[:, :-1], tail=1)
    with pytest.raises(ConfigError, match="tail"):
        holdout_matrix(X, tail=-1)


def test_rows_in_any_order_give_the_same_rule():
    """hold_out reads positions, not row order: the tail is the last positions, the
    random share is drawn among the earlier rows of each user."""
    users = np.array([1, 0, 1, 0, 1, 0, 1])
    position = np.array([3, 2, 0, 0, 2, 1, 1])
    held = hold_out(users, position, 1, 0.0, np.random.default_rng(0))
    assert held.tolist() == [True, True, False, False, False, False, False]
    held = hold_out(users, position, 1, 0.5, np.random.default_rng(0))
    # user 1 (4 rows): its last, then round(0.5 * 3) = 2 of the 3 earlier; user 0 (3 rows): 1 + round(0.5 * 2)
    assert np.bincount(users[held]).tolist() == [2, 3]
    assert held[[0, 1]].all()


def test_the_fast_sort_by_user_then_key_is_lexsort_also_when_keys_collide(monkeypatch):
    from movierec.split.holdout import _by_user_then_key

    rng = np.random.default_rng(0)
    users = rng.integers(0, 50, 2_000)
    key = rng.random(2_000)
    key[::7] = 2.0
    expected = np.lexsort((key, users))
    with monkeypatch.context() as patch:  # the tail's equal keys tie in both sorts: no fallback
        patch.setattr(np, "lexsort", lambda *args: pytest.fail("fell back to lexsort"))
        np.testing.assert_array_equal(_by_user_then_key(users, key), expected)
    key[1] = np.nextafter(key[0], 3.0)  # closer than the spacing of 4 * user + key
    users[1] = users[0]
    np.testing.assert_array_equal(_by_user_then_key(users, key), np.lexsort((key, users)))
