"""Inner hold-out, candidate lists and candidate recall (movierec.models.candidates)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.data.interactions import csr_from_indices
from movierec.exceptions import ConfigError, DataError
from movierec.models.candidates import (
    candidate_recall,
    fit_members,
    inner_holdout,
    label_pairs,
    member_names,
    parse_member,
    top_candidates,
)


def _matrix(n_users: int = 30, n_items: int = 40, per_user: int = 12, seed: int = 0):
    """Each user has `per_user` random items; timestamp = user * 1000 + position."""
    rng = np.random.default_rng(seed)
    cols = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :per_user]
    rows = np.repeat(np.arange(n_users), per_user)
    X = csr_from_indices(rows, cols.ravel(), (n_users, n_items))
    order = np.tile(np.arange(per_user), n_users)
    T = sp.csr_matrix((rows * 1000.0 + order, (rows, cols.ravel())), shape=X.shape)
    T.sort_indices()
    return X, T, cols


def test_inner_holdout_sizes_disjoint_and_latest_items():
    X, T, cols = _matrix()
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
    X, _, _ = _matrix()
    a = inner_holdout(X, tail=0, fraction=0.5, seed=3)[1]
    b = inner_holdout(X, tail=0, fraction=0.5, seed=3)[1]
    c = inner_holdout(X, tail=0, fraction=0.5, seed=4)[1]
    assert (a != b).nnz == 0 and (a != c).nnz > 0
    single = csr_from_indices(np.array([0, 1, 1]), np.array([2, 0, 1]), (2, 3))
    history, holdout, times = inner_holdout(single, tail=5, fraction=0.9, seed=0)
    assert np.diff(history.indptr).tolist() == [1, 1] and times is None


def test_inner_holdout_rejects_misaligned_timestamps():
    X, T, _ = _matrix()
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


def test_member_aliases_fit_one_model_with_two_parameter_sets():
    X, T, _ = _matrix()
    members = fit_members("ease, recent=ease", {"ease": {"l2": 2.0}, "recent": {"l2": 2.0, "recency_decay": 0.5}},
                          X, timestamps=T)
    assert list(members) == ["ease", "recent"] == list(member_names("ease, recent=ease"))
    assert members["recent"].recency_decay == 0.5
    users = np.arange(5)
    assert not np.allclose(members["ease"].score(users), members["recent"].score(users))


def test_fitted_members_are_reused_only_for_the_same_model_parameters_and_matrix():
    X, _, _ = _matrix()
    ease = fit_members("ease", {"ease": {"l2": 2.0}}, X)["ease"]
    assert fit_members("ease,pop", {"ease": {"l2": 2.0}}, X, fitted_members={"ease": ease})["ease"] is ease
    assert fit_members("ease", {"ease": {"l2": 3.0}}, X, fitted_members={"ease": ease})["ease"] is not ease
    other, _, _ = _matrix(seed=1)
    refit = fit_members("ease", {"ease": {"l2": 2.0}}, other, fitted_members={"ease": ease})["ease"]
    assert refit is not ease and refit.X_.nnz == other.nnz
    assert fit_members("pop", None, X, fitted_members={"pop": ease})["pop"].name == "pop"  # another model


@pytest.mark.parametrize("spec", ["=ease", "recent=", " = "])
def test_malformed_member_specs_are_named(spec):
    with pytest.raises(ConfigError, match="alias=model"):
        parse_member(spec)
