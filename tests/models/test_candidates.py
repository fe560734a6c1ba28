"""Inner hold-out, candidate lists and candidate recall (movierec.models.candidates)."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.data.interactions import csr_from_indices
from movierec.exceptions import DataError
from movierec.models.candidates import candidate_recall, inner_holdout, label_pairs, top_candidates
from tests.synthetic import timed_matrix


def test_inner_holdout_sizes_disjoint_and_latest_items():
    X, T, cols = timed_matrix()
    history, holdout, history_times = inner_holdout(X, timestamps=T, tail=2, fraction=0.1, seed=0)
    assert (history + holdout - X).nnz == 0 or abs(history + holdout - X).max() == 0
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


def test_inner_holdout_is_seeded_and_keeps_one_item():
    X, _, _ = timed_matrix()
    a = inner_holdout(X, tail=0, fraction=0.5, seed=3)[1]
    b = inner_holdout(X, tail=0, fraction=0.5, seed=3)[1]
    c = inner_holdout(X, tail=0, fraction=0.5, seed=4)[1]
    assert (a != b).nnz == 0 and (a != c).nnz > 0
    single = csr_from_indices(np.array([0, 1, 1]), np.array([2, 0, 1]), (2, 3))
    history, holdout, times = inner_holdout(single, tail=5, fraction=0.9, seed=0)
    assert np.diff(history.indptr).tolist() == [1, 1] and times is None


def test_inner_holdout_rejects_misaligned_timestamps():
    X, T, _ = timed_matrix()
    with pytest.raises(DataError, match="non-zeros of X"):
        inner_holdout(X, timestamps=T[:, :-1], tail=1)
    with pytest.raises(DataError, match="tail"):
        inner_holdout(X, tail=-1)


def test_top_candidates_excludes_seen_and_marks_empty_slots():
    scores = np.array([[0.9, 0.8, 0.1], [0.3, 0.2, 0.1]], dtype=np.float32)
    seen = csr_from_indices(np.array([0, 1, 1]), np.array([0, 0, 1]), (2, 3))
    items, _ = top_candidates(lambda users: scores[users], np.array([0, 1]), 3, exclude=seen)
    assert items.tolist() == [[1, 2, -1], [2, -1, -1]]


def test_candidate_recall_and_labels_by_hand():
    truth = csr_from_indices(np.array([0, 0, 1]), np.array([1, 2, 0]), (2, 3))
    candidates = np.array([[1, -1], [2, 1]])
    assert label_pairs(truth, candidates).tolist() == [[True, False], [False, False]]
    assert candidate_recall(candidates, truth, np.array([0, 1])) == pytest.approx(1 / 3)
    assert candidate_recall(candidates[1:], truth, np.array([1])) == 0.0
