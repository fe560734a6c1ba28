"""The CatBoost reranker ("rerank") and its pair features, on a tiny planted matrix.

The data (tests/synthetic.py): two taste groups of 30 users, each watching 12 items of
its own 20-item block plus 3 of 5 items everyone watches; timestamps increase along
each user's history. Per user, 3 random items are the test part here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from movierec.data.idmap import IdMap
from movierec.data.interactions import csr_from_indices, to_csr
from movierec.evaluate import evaluate
from movierec.exceptions import ConfigError, NotFittedError
from movierec.models.base import Recommender
from movierec.models.composite import base as composite_base
from movierec.models.composite import features as rerank_features
from movierec.models.composite import rows as composite_rows
from movierec.models.composite.crossfit import booster_rows
from movierec.models.composite.features import (
    DAY,
    SEQUENCE_WINDOW,
    history_stats,
    item_cosine,
    item_transitions,
    pair_frame,
)
from movierec.models.composite.rows import candidate_rows
from movierec.models.registry import create
from tests.synthetic import planted_interactions

FAST = {"n_candidates": 15, "iterations": 30, "learning_rate": 0.2, "depth": 3, "thread_count": 1,
        "eval_fraction": 0.0, "n_folds": 1, "label_source": "inner", "member_params": {"ease": {"l2": 5.0}},
        "inner_tail": 0, "inner_fraction": 0.25}  # the test part below is random, so is the inner one


def _data():
    frame = planted_interactions(seed=1).sort_values(["user", "timestamp"])
    idmap = IdMap.from_ids(frame.user, frame.item)
    key = np.random.default_rng(0).random(len(frame))
    last = frame.assign(key=key).groupby("user")["key"].rank().to_numpy() <= 3
    train, test = frame[~last], frame[last]
    X, truth = to_csr(train, idmap), to_csr(test, idmap)
    T = sp.csr_matrix((train.timestamp.to_numpy(np.float64),
                       (idmap.user_index(train.user), idmap.item_index(train.item))), shape=X.shape)
    T.sort_indices()
    group = (idmap.users.str[1:].astype(int).to_numpy() >= 30).astype(int)
    block = np.where(idmap.items.str[1:].astype(int).to_numpy() >= 40, 2,
                     idmap.items.str[1:].astype(int).to_numpy() // 20)
    return X, truth, T, group, block


X, TRUTH, TIMES, GROUP, BLOCK = _data()


@pytest.fixture(scope="module")
def model():
    return create("rerank", **FAST).fit(X, timestamps=TIMES)


def test_scores_only_candidates_and_recovers_the_blocks(model):
    users = np.arange(X.shape[0])
    scores = model.score(users)
    assert scores.shape == X.shape and not np.isnan(scores).any()
    assert (np.isfinite(scores).sum(axis=1) == 15).all()
    assert not np.isfinite(scores[X.toarray() > 0]).any(), "seen items are never candidates"
    items, _ = model.recommend(users, k=3)
    own = (BLOCK[items] == GROUP[:, None]) | (BLOCK[items] == 2)
    assert own.mean() >= 0.95
    ours = evaluate(model.score, TRUTH, exclude=X, k=5)["recall@5"]
    popular = evaluate(create("pop").fit(X).score, TRUTH, exclude=X, k=5)["recall@5"]
    assert ours >= popular + 0.1, (ours, popular)


def test_time_features_exist_only_with_timestamps(model):
    assert {"user_days_since_last", "item_pop_recent", "item_pop_around_user_last"} <= set(model.training_frame_)
    without = create("rerank", **FAST).fit(X)
    assert "user_days_since_last" not in without.training_frame_.columns
    assert np.isfinite(without.score(np.arange(5))).sum() == 5 * 15


def test_valid_labels_are_never_read_with_inner_labels(model):
    """label_source='inner': the pipeline's validation positives never train the reranker."""
    noise = csr_from_indices(np.arange(X.shape[0]), np.zeros(X.shape[0], dtype=np.int64), X.shape)
    noise = sp.csr_matrix(noise - noise.multiply(X))  # held out: no pair of X
    noise.eliminate_zeros()
    other = create("rerank", **FAST).fit(X, timestamps=TIMES, valid=noise)
    np.testing.assert_array_equal(other.training_labels_, model.training_labels_)
    np.testing.assert_allclose(other.score(np.arange(10)), model.score(np.arange(10)))


def test_seeded_oversampling_and_save_load(model, tmp_path):
    again = create("rerank", **FAST).fit(X, timestamps=TIMES)
    np.testing.assert_array_equal(again.score(np.arange(8)), model.score(np.arange(8)))
    model.save(tmp_path / "rerank.pkl")
    loaded = Recommender.load(tmp_path / "rerank.pkl")
    np.testing.assert_array_equal(loaded.score(np.arange(8)), model.score(np.arange(8)))
    assert model.training_pool().num_row() == len(model.training_frame_)
    with pytest.raises(NotFittedError, match="training rows"):
        loaded.training_pool()
    logloss = create("rerank", **FAST | {"loss": "Logloss", "positive_oversample": 3, "use_ids": False,
                                         "members": "ease,pop"}).fit(X)
    assert "pop_rank" in logloss.training_frame_.columns
    assert "user_id" not in logloss.booster_.feature_names_
    assert logloss.feature_importances().index[0] in logloss.booster_.feature_names_


def test_one_model_twice_under_an_alias():
    """``recent=ease`` adds EASE again with its own parameters: its own feature columns."""
    params = FAST | {"members": "ease,recent=ease", "member_params": {"recent": {"recency_decay": 0.5}}}
    model = create("rerank", **params).fit(X, timestamps=TIMES)
    assert {"ease_score", "recent_score", "recent_rank"} <= set(model.training_frame_.columns)
    assert model.members_["recent"].recency_decay == 0.5 and model.members_["ease"].recency_decay == 1.0
    frame = model.training_frame_
    assert not np.allclose(frame["ease_score"], frame["recent_score"])


def test_cross_fitted_boosters_average_their_predictions():
    """n_folds=3: three boosters, each early-stopped on its own users; scores are their mean."""
    model = create("rerank", **FAST | {"n_folds": 3}).fit(X, timestamps=TIMES)
    assert len(model.boosters_) == 3 and len(model.best_iterations_) == 3
    users = np.arange(5)
    frame, items = candidate_rows(model._spec, model.members_, model.X_, model.stats_, model.features_, users)
    mean = np.mean([booster.predict(model._inputs(frame)) for booster in model.boosters_], axis=0)
    kept = np.flatnonzero(items.ravel() >= 0)
    scores = model.score(users)
    np.testing.assert_allclose(scores[kept // items.shape[1], items.ravel()[kept]], mean, rtol=1e-5)
    assert not np.allclose(model.boosters_[0].predict(model._inputs(frame)), mean)
    assert len(model.feature_importances()) == len(model.booster_.feature_names_)


def test_inner_members_train_as_long_as_the_final_ones_stopped(member_fits):
    """With valid, the scoring members early-stop; the inner members (the booster's
    training rows) then train that many epochs, and refit_params carries them too."""
    calls = member_fits(composite_base)
    fm = {"dim": 4, "epochs": 12, "patience": 2, "batch_size": 256, "device": "cpu"}
    params = FAST | {"members": "ease,fm", "member_params": {"ease": {"l2": 5.0}, "fm": fm}}
    model = create("rerank", **params).fit(X, timestamps=TIMES, valid=TRUTH)
    stopped = model.members_["fm"].best_epoch_
    assert [with_valid for with_valid, _ in calls] == [True, False]
    inherited = {"random_state": 0, "valid_k": 10}  # the reranker's own, for members that take them
    assert calls[0][1] == {"ease": {"l2": 5.0}, "fm": inherited | fm}
    assert calls[1][1] == {"ease": {"l2": 5.0}, "fm": inherited | fm | {"epochs": stopped}}
    assert model.refit_params() == {"member_params": calls[1][1]}
    assert model.members_["ease"].l2 == 5.0


def _carve_valid(per_user: int = 2, seed: int = 2) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """`per_user` random training items of every user as a validation part: (history, valid)."""
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    rank = pd.Series(np.random.default_rng(seed).random(X.nnz)).groupby(rows).rank().to_numpy()
    held = rank <= per_user
    valid = csr_from_indices(rows[held], X.indices[held], X.shape)
    history = csr_from_indices(rows[~held], X.indices[~held], X.shape)
    return history, valid


VALID_LABELS = FAST | {"label_source": "valid", "n_folds": 3}


@pytest.fixture(scope="module")
def valid_labelled():
    history, valid = _carve_valid()
    return create("rerank", **VALID_LABELS).fit(history, valid=valid), history, valid


def test_validation_labels_train_on_the_scoring_members_candidates(valid_labelled):
    model, history, valid = valid_labelled
    assert model.labelled_by_ == "valid" and len(model.boosters_) == 3
    frame = model.training_frame_
    users, items = frame["user_id"].to_numpy(), frame["item_id"].to_numpy()
    np.testing.assert_array_equal(model.training_labels_, np.asarray(valid[users, items]).ravel() != 0)
    assert (np.bincount(users, minlength=X.shape[0])[np.diff(valid.indptr) > 0] == 15).all()
    candidates = model.candidates(np.unique(users))
    assert set(zip(users, items)) == {(u, i) for u, row in zip(np.unique(users), candidates) for i in row}


def test_each_validation_user_is_scored_by_the_booster_that_never_saw_them(valid_labelled):
    """Booster k learns from the folds other than k and k+1 and stops on k+1; validation
    is read through score_out_of_fold (fold k's users: booster k), recommending through
    score (the mean of the boosters)."""
    model, history, valid = valid_labelled
    assert model.fold_of_user_.shape == (1, X.shape[0])
    folds = model.fold_of_user_[0]
    assert (folds[np.diff(valid.indptr) > 0] >= 0).all() and set(folds) == {0, 1, 2}
    users = np.concatenate([np.flatnonzero(folds == k)[:2] for k in range(3)])
    frame, items = candidate_rows(model._spec, model.members_, model.X_, model.stats_, model.features_, users)
    each = np.stack([booster.predict(model._inputs(frame)) for booster in model.boosters_])
    kept = np.flatnonzero(items.ravel() >= 0)
    rows, cols = kept // items.shape[1], items.ravel()[kept]
    own = each[folds[users][rows], np.arange(len(kept))]
    np.testing.assert_allclose(model.score_out_of_fold(users)[rows, cols], own, rtol=1e-5)
    np.testing.assert_allclose(model.score(users)[rows, cols], each.mean(axis=0), rtol=1e-5)
    assert not np.allclose(own, each.mean(axis=0))
    recall = evaluate(model.score_out_of_fold, valid, exclude=history, k=5)["recall@5"]
    popular = evaluate(create("pop").fit(history).score, valid, exclude=history, k=5)["recall@5"]
    assert recall >= popular + 0.1, (recall, popular)


def test_repeated_folds_score_each_user_by_the_mean_of_their_folds_boosters(valid_labelled):
    """Two draws of three folds: six boosters; a validation user's out-of-fold score is
    the mean of the two boosters that left out that user's fold, one per draw."""
    _, history, valid = valid_labelled
    model = create("rerank", **VALID_LABELS | {"fold_repeats": 2}).fit(history, valid=valid)
    assert len(model.boosters_) == 6 and model.fold_of_user_.shape == (2, X.shape[0])
    scored = np.diff(valid.indptr) > 0
    first, second = model.fold_of_user_
    assert (first[scored] >= 0).all() and (second[scored] >= 0).all() and (first[~scored] == -1).all()
    assert (first[scored] != second[scored]).any()  # the second draw is another partition
    users = np.flatnonzero(scored)[:6]
    frame, items = candidate_rows(model._spec, model.members_, model.X_, model.stats_, model.features_, users)
    each = np.stack([booster.predict(model._inputs(frame)) for booster in model.boosters_])
    kept = np.flatnonzero(items.ravel() >= 0)
    rows, cols = kept // items.shape[1], items.ravel()[kept]
    own = (each[first[users][rows], np.arange(len(kept))] + each[3 + second[users][rows], np.arange(len(kept))]) / 2
    np.testing.assert_allclose(model.score_out_of_fold(users)[rows, cols], own, rtol=1e-5)
    np.testing.assert_allclose(model.score(users)[rows, cols], each.mean(axis=0), rtol=1e-5)


def test_recall_weights_give_each_users_rows_one_over_its_hidden_count(monkeypatch):
    """group_weight="recall": a user's rows weigh 1 / min(valid_k, validation items), as
    a hit counts in Recall@k; positives repeated by oversampling keep their user's weight."""
    from movierec.models.composite import reranker as reranker_module

    history, valid = _carve_valid(per_user=3)
    rows = np.repeat(np.arange(valid.shape[0]), np.diff(valid.indptr))
    first = np.r_[True, rows[1:] != rows[:-1]]
    keep = ~(first & (rows % 2 == 0))  # even users keep 2 validation items, odd ones 3
    valid = csr_from_indices(rows[keep], valid.indices[keep], valid.shape)
    seen = {}

    def spy(inputs, labels, groups, users, n_users, **options):
        seen.update(users=users, labels=labels, weights=options["group_weights"])
        return real(inputs, labels, groups, users, n_users, **options)

    real = reranker_module.cross_fit
    monkeypatch.setattr(reranker_module, "cross_fit", spy)
    params = VALID_LABELS | {"valid_k": 10, "positive_oversample": 2}
    weighted = create("rerank", **params | {"group_weight": "recall"}).fit(history, valid=valid)
    expected = np.where(seen["users"] % 2 == 0, 1 / 2, 1 / 3)
    np.testing.assert_allclose(seen["weights"], expected)
    assert seen["labels"].sum() > len(np.unique(seen["users"]))  # positives were repeated, weights with them
    equal = create("rerank", **params).fit(history, valid=valid)
    assert seen["weights"] is None
    assert not np.allclose(weighted.score(np.arange(6))[np.isfinite(weighted.score(np.arange(6)))],
                           equal.score(np.arange(6))[np.isfinite(equal.score(np.arange(6)))])


def test_nested_boosters_never_learn_the_fold_they_score():
    fold = np.repeat(np.arange(5), 3)
    for k in range(5):
        learns, stops = booster_rows(fold, k, 5, nested=True)
        assert not learns[fold == k].any() and not (learns & stops).any()
        assert set(fold[stops]) == {(k + 1) % 5} and set(fold[learns]) == set(range(5)) - {k, (k + 1) % 5}
        learns, stops = booster_rows(fold, k, 5)
        assert set(fold[stops]) == {k} and (learns == ~stops).all()


def test_too_few_validation_users_fall_back_to_the_inner_holdout():
    history, valid = _carve_valid()
    two_users = sp.csr_matrix(valid.multiply(np.isin(np.arange(X.shape[0]), [0, 1])[:, None]))
    model = create("rerank", **VALID_LABELS).fit(history, valid=two_users)
    assert model.labelled_by_ == "inner" and model.fold_of_user_ is None
    np.testing.assert_array_equal(model.score_out_of_fold(np.arange(4)), model.score(np.arange(4)))
    without = create("rerank", **VALID_LABELS).fit(history)
    assert without.labelled_by_ == "inner"


@pytest.mark.parametrize("bad", [{"loss": "Hinge"}, {"group_weight": "items"}, {"thread_count": 0}, {"members": ()}, {"n_candidates": 0}, {"eval_fraction": 1.0},
                                 {"members": "ease,ease"}, {"members": "ease,=pop"}, {"n_folds": 0}, {"fold_repeats": 0},
                                 {"knn_neighbours": 0}, {"early_stopping_rounds": 0}, {"label_source": "test"},
                                 {"members": "ease,inner=rerank"}, {"members": "ease,ensemble"}])
def test_bad_parameters_raise_config_errors(bad):
    with pytest.raises(ConfigError):
        create("rerank", **FAST | bad).fit(X)


def test_thread_count_minus_one_is_catboosts_every_core():
    create("rerank", **FAST | {"thread_count": -1}).check_params()
    with pytest.raises(ConfigError, match="thread_count must be a whole number >= 1, or -1"):
        create("rerank", **FAST | {"thread_count": -2}).check_params()


def test_validation_labels_need_three_folds_only_when_there_is_validation():
    history, valid = _carve_valid()
    with pytest.raises(ConfigError, match="n_folds >= 3"):
        create("rerank", **VALID_LABELS | {"n_folds": 2}).fit(history, valid=valid)
    assert create("rerank", **VALID_LABELS | {"n_folds": 1}).fit(history).labelled_by_ == "inner"


def test_pair_features_by_hand():
    """Three users, four items; times in days: user 0 watched item 0 (day 1) and 1 (day 2)::

        user 0: items 0, 1     user 1: item 1     user 2: items 1, 2 (day 10)
    """
    X = csr_from_indices(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 1, 2]), (3, 4))
    times = np.array([1.0, 2.0, 2.0, 10.0, 10.0]) * DAY  # parallel to X.data
    stats = history_stats(X, times, None, recent_days=3.0)
    np.testing.assert_allclose(stats.item["item_pop"], [1 / 3, 1.0, 1 / 3, 0.0])
    np.testing.assert_allclose(stats.user["user_activity"], [2, 1, 2])
    np.testing.assert_allclose(stats.user["user_days_since_last"], [8, 8, 0])
    # recent window [7, 10] days holds the two day-10 interactions: items 1 and 2
    np.testing.assert_allclose(stats.item["item_pop_recent"], [0, 0.5, 0.5, 0])
    users, items = np.array([1]), np.array([[0, 2]])
    frame = pair_frame(users, items, X, stats, None, {"m": np.array([[3.0, -np.inf, 1.0, 2.0]])})
    assert frame["m_rank"].tolist() == [0, 2] and frame["m_score"].tolist() == [3.0, 1.0]
    # around user 1's last day (2) +-3 days: interactions on days 1, 2, 2 -> item 0 has 1 of 3
    np.testing.assert_allclose(frame["item_pop_around_user_last"], [1 / 3, 0.0])
    np.testing.assert_allclose(frame["item_first_minus_user_last_days"], [-1.0, 8.0])


def test_item_cosine_keeps_each_items_nearest_neighbours(monkeypatch):
    """Against the dense cosine: the k largest of each row kept, the rest and the diagonal 0,
    whatever the block of items built at once."""
    rng = np.random.default_rng(3)
    watched = (rng.random((40, 25)) < 0.3).astype(np.float32)
    watched[:, 7] = 0  # an item nobody watched: no neighbours, nobody's neighbour
    Y = sp.csr_matrix(watched)
    dense = watched.T @ watched
    norms = np.sqrt(np.diag(dense))
    with np.errstate(invalid="ignore", divide="ignore"):
        dense = np.nan_to_num(dense / np.outer(norms, norms))
    np.fill_diagonal(dense, 0.0)
    monkeypatch.setattr(rerank_features, "COSINE_BLOCK", 6)
    sparse = item_cosine(Y, neighbours=4).toarray()
    for row, kept in zip(dense, sparse):
        assert np.count_nonzero(kept) <= 4
        np.testing.assert_allclose(kept[kept > 0], row[kept > 0], rtol=1e-5)
        if np.count_nonzero(row) >= 4:  # the kept are the four largest (ties aside)
            np.testing.assert_allclose(np.sort(kept)[-4:], np.sort(row)[-4:], rtol=1e-5)
    assert not sparse[7].any() and not sparse[:, 7].any()
    np.testing.assert_allclose(item_cosine(Y, neighbours=24).toarray(), dense, rtol=1e-5, atol=1e-7)


def test_transition_features_by_hand():
    """Items in time order -- user 0: 0, 1, 2; user 1: 0, 2; user 2: 3, then 0 and 1 in the same second.

    With a window of 2 steps, item 0 is followed by 1, 2 (user 0), 2 (user 1) and 1 (user 2,
    whose tie is ordered by item index): 1 and 2 take half each.
    """
    X = csr_from_indices(np.array([0, 0, 0, 1, 1, 2, 2, 2]), np.array([0, 1, 2, 0, 2, 0, 1, 3]), (3, 4))
    times = np.array([1.0, 2.0, 3.0, 1.0, 5.0, 9.0, 9.0, 4.0]) * DAY  # parallel to X.data
    transitions = item_transitions(X, times, window=2).toarray()
    np.testing.assert_allclose(transitions[0], [0, 0.5, 0.5, 0])
    np.testing.assert_allclose(transitions[3], [0.5, 0.5, 0, 0])
    np.testing.assert_allclose(transitions[2], 0.0)  # never followed
    stats = history_stats(X, times, None)
    users, items = np.array([1, 2]), np.array([[1, 3], [2, 3]])
    frame = pair_frame(users, items, X, stats, None, {})
    full = item_transitions(X, times, window=SEQUENCE_WINDOW).toarray()
    # user 1's last item is 2, never followed; user 2's last are 0 and 1 (a tie: both last)
    np.testing.assert_allclose(frame["next_after_last1"][:2], 0.0)
    np.testing.assert_allclose(frame["next_after_last1"][2:], full[[0, 1]][:, [2, 3]].mean(axis=0), rtol=1e-6)
    # the last five of user 2 are all three of its items, averaged
    np.testing.assert_allclose(frame["next_after_last5"][2:], full[[0, 1, 3]][:, [2, 3]].mean(axis=0), rtol=1e-6)
    assert "next_after_last1" not in pair_frame(users, items, X, history_stats(X, None, None), None, {})


def test_pair_rows_built_in_user_blocks_match_one_block(monkeypatch):
    """Rows and candidates do not depend on how many users are built at once."""
    model = create("rerank", **FAST).fit(X, timestamps=TIMES)
    users = np.arange(X.shape[0])
    assert len(users) > 2 * 7
    whole, whole_items = candidate_rows(model._spec, model.members_, model.X_, model.stats_, model.features_, users)
    scores = model.score(users)
    monkeypatch.setattr(composite_rows, "PAIR_BLOCK", 7)
    blocked, blocked_items = candidate_rows(model._spec, model.members_, model.X_, model.stats_, model.features_, users)
    np.testing.assert_array_equal(blocked_items, whole_items)
    pd.testing.assert_frame_equal(blocked, whole, rtol=1e-4)  # BLAS may round a smaller product differently
    # the training rows are built in blocks too: the same booster, the same scores
    np.testing.assert_allclose(create("rerank", **FAST).fit(X, timestamps=TIMES).score(users), scores, rtol=1e-4)


def test_the_boosters_take_the_run_s_thread_count_unless_told(monkeypatch):
    """None follows torch's count (what --threads sets); CatBoost grows the same trees on any count."""
    import torch

    from movierec.models.composite import reranker as module

    seen = []
    real = module.cross_fit
    monkeypatch.setattr(module, "cross_fit", lambda *args, spec, **kwargs: seen.append(spec.thread_count)
                        or real(*args, spec=spec, **kwargs))
    X = sp.random(40, 30, density=0.3, random_state=0, format="csr", dtype=np.float32)
    X.data[:] = 1
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        create("rerank", **FAST | {"thread_count": None}).fit(X)
    finally:
        torch.set_num_threads(previous)
    assert seen and set(seen) == {1}
