"""Recency-weighted histories, and EASE scoring from them."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.exceptions import ConfigError, DataError
from movierec.models.ease import EASE
from movierec.models.recency import _latest_first, recency_weighted, steps_from_last


def _history() -> tuple[sp.csr_matrix, sp.csr_matrix]:
    # user 0 watched items 0, 2, 3 at 50, 10, 30; user 1 items 1, 2 in the same second
    X = sp.csr_matrix(np.array([[1, 0, 1, 1], [0, 1, 1, 0]], dtype=np.float32))
    T = sp.csr_matrix(np.array([[50.0, 0, 10.0, 30.0], [0, 7.0, 7.0, 0]]))
    return X, T


def test_steps_count_later_items_and_ties_share_a_step():
    X, T = _history()
    assert steps_from_last(X, T.data).tolist() == [0, 2, 1, 0, 0]


@pytest.mark.parametrize("scale", [1.0, 0.37])  # whole seconds (one int64 sort) and fractions (lexsort)
def test_steps_agree_with_a_count_of_later_entries(scale):
    rng = np.random.default_rng(2)
    X = sp.random(30, 40, density=0.3, format="csr", random_state=3, dtype=np.float32)
    times = rng.integers(1_000_000_000, 1_000_000_020, X.nnz) * scale  # many ties per user
    rows = np.repeat(np.arange(30), np.diff(X.indptr))
    later = [(times[(rows == row)] > time).sum() for row, time in zip(rows, times)]
    assert steps_from_last(X, times).tolist() == later


@pytest.mark.parametrize("times", [
    [5.0, 5.0, 3.0, 9.0, 5.0, 3.0, 1.0, 9.0],  # ties within users: the int64 key
    [-5.0, 5.0, -3.0, 9.0, 5.0, 3.0, -1.0, 9.0],  # negative seconds: the key too
    [2.0 ** 60, 2.0, 3.0, 9.0, 5.0, 3.0, 1.0, 9.0],  # a span beyond exact float differences: lexsort
    [0.5, 5.0, 3.0, 9.0, 5.0, 3.0, 1.0, 9.0],  # fractions: lexsort
])
def test_latest_first_is_lexsorts_order(times):
    rows = np.array([0, 0, 0, 0, 2, 2, 2, 2])
    times = np.array(times)
    np.testing.assert_array_equal(_latest_first(rows, times), np.lexsort((-times, rows)))
    as_int = times.astype(np.int64)  # other dtypes are lexsorted as they are
    np.testing.assert_array_equal(_latest_first(rows, as_int), np.lexsort((-as_int, rows)))


def test_weights_by_hand():
    X, T = _history()
    weighted = recency_weighted(X, T, decay=0.5, floor=0.2).toarray()
    expected = np.array([[1.0, 0, 0.2 + 0.8 * 0.25, 0.2 + 0.8 * 0.5], [0, 1.0, 1.0, 0]], dtype=np.float32)
    np.testing.assert_allclose(weighted, expected, rtol=1e-6)
    assert np.array_equal(X.toarray(), (X.toarray() > 0).astype(np.float32)), "input left unchanged"


def test_no_times_or_no_decay_is_the_plain_history():
    X, T = _history()
    assert recency_weighted(X, None, decay=0.5) is X
    assert recency_weighted(X, T, decay=1.0) is X


@pytest.mark.parametrize(("decay", "floor"), [(0.0, 0.0), (1.5, 0.0), (0.9, -0.1), (0.9, 1.5)])
def test_bad_parameters_are_named(decay, floor):
    X, T = _history()
    with pytest.raises(ConfigError, match="recency_(decay|floor)"):
        recency_weighted(X, T, decay=decay, floor=floor)


def test_misaligned_timestamps_are_an_error():
    X, T = _history()
    with pytest.raises(DataError, match="non-zeros of X"):
        recency_weighted(X, T[:, :3], decay=0.9)


def _random_history(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = sp.random(60, 30, density=0.25, format="csr", random_state=seed, dtype=np.float32)
    X.data[:] = 1.0
    T = X.copy().astype(np.float64)
    T.data = rng.integers(0, 1000, size=X.nnz).astype(np.float64)
    return X, T


def test_ease_scores_the_weighted_history_with_the_same_weights():
    X, T = _random_history()
    plain = EASE(l2=5.0).fit(X, timestamps=T)
    recent = EASE(l2=5.0, recency_decay=0.8).fit(X, timestamps=T)
    np.testing.assert_array_equal(plain.B_, recent.B_)
    users = np.arange(10)
    expected = recency_weighted(X, T, decay=0.8)[users].toarray() @ plain.B_
    np.testing.assert_allclose(recent.score(users), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(recent.score(users), plain.score(users))
    # the mask is still the binary history
    assert recent.recommend(users, k=5)[0].shape == (10, 5)
    items, _ = recent.recommend(users, k=5)
    assert not X[users].toarray()[np.arange(10)[:, None], items].any()


def test_fold_in_with_timestamps_matches_the_fitted_user():
    X, T = _random_history(1)
    model = EASE(l2=5.0, recency_decay=0.7).fit(X, timestamps=T)
    np.testing.assert_allclose(model.score_history(X[3:5], T[3:5]), model.score(np.array([3, 4])), rtol=1e-6)


def test_grid_points_with_one_l2_share_one_inverse():
    X, T = _random_history(2)
    first = EASE(l2=5.0).fit(X, timestamps=T)
    second = EASE(l2=5.0, recency_decay=0.9).fit(X, timestamps=T)
    assert second.B_ is first.B_ and not first.B_.flags.writeable
    assert EASE(l2=6.0).fit(X).B_ is not first.B_
