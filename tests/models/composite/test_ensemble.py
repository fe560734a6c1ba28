"""Weight tuning and the Ensemble model ("ensemble"), on a tiny planted matrix.

Two groups of 20 users over 24 items: group g watches items of block g (12 items);
items 0 and 12 are watched by almost everyone of their group (popular).
"""

from __future__ import annotations

import numpy as np
import pytest

from movierec.data.interactions import csr_from_indices
from movierec.ensemble.tune import guarded_weights, recall_of, tune_weights
from movierec.evaluate import evaluate
from movierec.exceptions import ConfigError
from movierec.models.composite import base as composite_base
from movierec.models.composite import ensemble as ensemble_model
from movierec.models.registry import create
from movierec.split.holdout import holdout_matrix

N_USERS, BLOCK = 40, 12


def _planted(seed: int = 0):
    rng = np.random.default_rng(seed)
    group = np.arange(N_USERS) >= N_USERS // 2
    order = np.argsort(rng.random((N_USERS, BLOCK)), axis=1) + group[:, None] * BLOCK
    rows = np.repeat(np.arange(N_USERS), 8)
    X = csr_from_indices(rows, order[:, :8].ravel(), (N_USERS, 2 * BLOCK))
    valid = csr_from_indices(np.repeat(np.arange(N_USERS), 2), order[:, 8:10].ravel(), X.shape)
    test = csr_from_indices(np.repeat(np.arange(N_USERS), 2), order[:, 10:12].ravel(), X.shape)
    return X, valid, test


X, VALID, TEST = _planted()
MEMBERS = {"members": ("ease", "pop"), "member_params": {"ease": {"l2": 5.0}}, "n_trials": 12}


def test_tuning_finds_the_informative_member_and_never_loses_to_it():
    truth = VALID
    perfect = np.where(truth.toarray() > 0, 1.0, 0.0) + 0.01 * np.random.default_rng(1).random(truth.shape)
    noise = np.random.default_rng(2).random(truth.shape)
    choice = tune_weights([noise, perfect], truth, methods=("rank", "zscore"), n_trials=8, k=2)
    assert choice.recall == pytest.approx(1.0)
    assert choice.weights[1] > choice.weights[0]
    assert choice.recall == max(choice.per_method.values())
    assert choice.recall >= recall_of(perfect, truth, 2)
    with pytest.raises(ConfigError, match="normalisation"):
        tune_weights([noise], truth, methods=("nope",))


def test_guard_falls_back_to_the_best_member_when_blending_gains_nothing():
    truth = VALID
    perfect = np.where(truth.toarray() > 0, 1.0, 0.0) + 0.01 * np.random.default_rng(1).random(truth.shape)
    noise = np.random.default_rng(2).random(truth.shape)
    choice = guarded_weights([noise, perfect], truth, methods=("rank",), n_trials=8, k=2)
    assert choice.fell_back and choice.weights == (0.0, 1.0) and choice.recall == pytest.approx(1.0)
    assert choice.held_out_gain is not None and choice.held_out_gain <= 0


def test_guard_keeps_a_blend_that_wins_out_of_sample():
    """Each member finds one of a user's two hidden items; only together do they find both."""
    truth = VALID.toarray() > 0
    rng = np.random.default_rng(3)
    first = np.argmax(truth, axis=1)
    second = truth.shape[1] - 1 - np.argmax(truth[:, ::-1], axis=1)
    rows = np.arange(truth.shape[0])
    a, b = rng.random(truth.shape), rng.random(truth.shape)
    a[rows, first], b[rows, second] = 10.0, 10.0
    choice = guarded_weights([a, b], VALID, methods=("zscore",), n_trials=12, k=2)
    assert not choice.fell_back and choice.held_out_gain > 0.2
    assert choice.recall == pytest.approx(1.0)


def test_guard_wants_a_gain_beyond_its_standard_error():
    """Members of pure noise: a blend can 'win' held out by chance, by less than one SE."""
    import scipy.sparse as sp

    truth = sp.csr_matrix((np.random.default_rng(0).random((300, 40)) < 0.1).astype(np.float32))
    rng = np.random.default_rng(2)
    members = [rng.random(truth.shape) for _ in range(3)]
    search = {"methods": ("rank",), "n_trials": 10, "k": 5}
    lenient = guarded_weights(members, truth, margin=0.0, **search)
    strict = guarded_weights(members, truth, margin=1.0, **search)
    assert not lenient.fell_back and 0 < lenient.held_out_gain < lenient.held_out_se
    assert strict.fell_back and sorted(strict.weights) == [0.0, 0.0, 1.0]
    assert (strict.held_out_gain, strict.held_out_se) == (lenient.held_out_gain, lenient.held_out_se)
    with pytest.raises(ConfigError, match="margin"):
        guarded_weights(members, truth, margin=-1.0, **search)


def test_ensemble_tunes_on_valid_and_refits_with_its_weights():
    model = create("ensemble", **MEMBERS).fit(X, valid=VALID)
    assert set(model.weights_) == {"ease", "pop"} and model.choice_.method in ("rank", "minmax", "zscore", "rrf")
    ease = create("ease", l2=5.0).fit(X)
    ours = evaluate(model.score, TEST, exclude=X + VALID, k=5)["recall@5"]
    theirs = evaluate(ease.score, TEST, exclude=X + VALID, k=5)["recall@5"]
    assert ours >= theirs - 0.05
    params = model.refit_params()
    assert params["member_params"]["ease"] == {"l2": 5.0}
    refit = model.with_params(**params).fit(X + VALID)  # no valid: the given weights are used
    assert refit.weights_ == model.weights_ and refit.choice_.method == model.choice_.method
    assert refit.score(np.arange(3)).shape == (3, 2 * BLOCK)


def test_inner_tuning_never_reads_valid():
    first = create("ensemble", **MEMBERS, tune_on="inner", inner_tail=0, inner_fraction=0.25).fit(X, valid=VALID)
    other = create("ensemble", **MEMBERS, tune_on="inner", inner_tail=0, inner_fraction=0.25).fit(X, valid=TEST)
    assert first.weights_ == other.weights_
    history, holdout, _ = holdout_matrix(X, tail=0, fraction=0.25, seed=0)
    assert holdout.nnz == 2 * N_USERS and (history + holdout != X).nnz == 0


def test_inner_members_train_as_long_as_the_final_ones_stopped(member_fits):
    """tune_on="inner" with valid: the final members early-stop first, the inner ones reuse their epochs."""
    calls = member_fits(composite_base)
    fm = {"dim": 4, "epochs": 10, "patience": 2, "batch_size": 64, "device": "cpu"}
    model = create("ensemble", members=("ease", "fm"), member_params={"ease": {"l2": 5.0}, "fm": fm}, n_trials=4,
                   tune_on="inner", inner_tail=0, inner_fraction=0.25).fit(X, valid=VALID)
    fm = {"random_state": 0, "valid_k": 10} | fm  # the ensemble's own, for members that take them
    stopped = fm | {"epochs": model.members_["fm"].best_epoch_}
    assert calls == [(True, {"ease": {"l2": 5.0}, "fm": fm}), (False, {"ease": {"l2": 5.0}, "fm": stopped})]
    assert model.refit_params()["member_params"]["fm"] == stopped


def test_a_reranker_member_reuses_the_ensembles_members_and_scores_as_if_alone():
    rerank = {"members": ("ease",), "member_params": {"ease": {"l2": 5.0}}, "n_candidates": 10, "iterations": 20,
              "inner_tail": 0, "inner_fraction": 0.25, "thread_count": 1}
    model = create("ensemble", members=("ease", "rerank"), member_params={"ease": {"l2": 5.0}, "rerank": rerank},
                   weights={"ease": 0.0, "rerank": 1.0}).fit(X)
    assert model.members_["rerank"].members_["ease"] is model.members_["ease"]
    alone = create("rerank", **rerank).fit(X)
    users = np.arange(N_USERS)
    np.testing.assert_array_equal(model.members_["rerank"].score(users), alone.score(users))
    other = create("ensemble", members=("ease", "rerank"),
                   member_params={"ease": {"l2": 50.0}, "rerank": rerank}, weights={"ease": 0.0, "rerank": 1.0}).fit(X)
    assert other.members_["rerank"].members_["ease"] is not other.members_["ease"]
    assert other.members_["rerank"].members_["ease"].l2 == 5.0


def test_a_reranker_learning_from_valid_is_read_out_of_fold_when_tuning(monkeypatch):
    """Weights are searched on the scores that never learned the validation labels; the
    ensemble's own validation score blends them too."""
    rerank = {"members": ("ease",), "member_params": {"ease": {"l2": 5.0}}, "n_candidates": 10, "iterations": 20,
              "label_source": "valid", "n_folds": 3, "thread_count": 1}
    seen = []
    real = ensemble_model.guarded_weights
    monkeypatch.setattr(ensemble_model, "guarded_weights", lambda scores, truth, **kw: seen.append(scores) or
                        real(scores, truth, **kw))
    model = create("ensemble", members=("ease", "rerank"), member_params={"ease": {"l2": 5.0}, "rerank": rerank},
                   n_trials=4).fit(X, valid=VALID)
    reranker = model.members_["rerank"]
    assert reranker.labelled_by_ == "valid"
    users = np.flatnonzero(np.diff(VALID.indptr) > 0)
    out_of_fold = np.where(X[users].toarray() > 0, -np.inf, reranker.score_out_of_fold(users))
    np.testing.assert_array_equal(seen[0][1], out_of_fold)
    assert not np.array_equal(out_of_fold, np.where(X[users].toarray() > 0, -np.inf, reranker.score(users)))
    alone = model.with_params(weights={"ease": 0.0, "rerank": 1.0}).fit(X, valid=VALID)
    ndcg = {scorer: evaluate(getattr(alone, scorer), VALID, exclude=X)["ndcg@10"]
            for scorer in ("score", "score_out_of_fold")}
    for scorer, value in ndcg.items():
        assert value == pytest.approx(evaluate(getattr(alone.members_["rerank"], scorer), VALID, exclude=X)["ndcg@10"])
    assert ndcg["score_out_of_fold"] < ndcg["score"]  # the boosters' mean has seen every validation user


def test_blend_of_given_weights_by_hand():
    model = create("ensemble", members="ease, pop", member_params={"ease": {"l2": 5.0}},
                   method="minmax", weights={"ease": 1.0, "pop": 0.0}).fit(X)
    ease = create("ease", l2=5.0).fit(X)
    np.testing.assert_array_equal(model.recommend(np.arange(N_USERS), k=4)[0],
                                  ease.recommend(np.arange(N_USERS), k=4)[0])


@pytest.mark.parametrize("bad", [
    {"members": ("ease", "ease")}, {"members": ("ensemble",)}, {"method": "max"}, {"tune_on": "test"},
    {"weights": {"ease": 1.0}},
])
def test_bad_parameters_raise_config_errors(bad):
    with pytest.raises(ConfigError):
        create("ensemble", **(MEMBERS | bad)).fit(X, valid=VALID)


@pytest.mark.parametrize("weights", [{"ease": 1.0, "pop": "x"}, {"ease": 1.0, "pop": float("nan")},
                                     {"ease": True, "pop": 1.0}, [1.0, 2.0]])
def test_weights_of_the_wrong_kind_are_refused_before_any_member_trains(weights):
    model = create("ensemble", **(MEMBERS | {"members": ("ease", "pop"), "weights": weights}))
    with pytest.raises(ConfigError, match="ensemble weights"):
        model.check_params()
    create("ensemble", **(MEMBERS | {"weights": {"ease": np.float32(0.5), "pop": 1}})).check_params()


def test_unknown_member_is_a_config_error():
    with pytest.raises(ConfigError, match="cannot be"):
        create("ensemble", members=("ease", "nosuchmodel")).fit(X, valid=VALID)


def test_a_bucket_mix_tunes_one_blend_per_bucket_and_refits_without_fixed_weights():
    model = create("ensemble", **MEMBERS | {"mix": "buckets", "n_buckets": 2}).fit(X, valid=VALID)
    assert len(model.bucket_choices_) == len(model.bucket_edges_) + 1 >= 1
    users = np.arange(N_USERS)
    assert model.score(users).shape == (N_USERS, 2 * BLOCK)
    assert "weights" not in model.refit_params()  # tuned again at the refit, on an inner hold-out
    refit = model.with_params(**model.refit_params()).fit(X + VALID)
    assert refit.score(users).shape == (N_USERS, 2 * BLOCK)


def test_a_slot_mix_fills_from_two_members_and_falls_back_to_one_without_evidence():
    model = create("ensemble", members=("ease", "pop"), member_params={"ease": {"l2": 5.0}}, mix="slots",
                   valid_k=4).fit(X, valid=VALID)
    assert model.slots_ in range(5) and model.choice_.method == "slots"
    ease = create("ease", l2=5.0).fit(X)
    if model.slots_ == 4:  # the guard kept EASE alone: then the lists are EASE's
        np.testing.assert_array_equal(model.recommend(np.arange(N_USERS), k=4)[0],
                                      ease.recommend(np.arange(N_USERS), k=4)[0])
    with pytest.raises(ConfigError, match="exactly two members"):
        create("ensemble", members=("ease", "pop", "dlae"), mix="slots").fit(X, valid=VALID)
    with pytest.raises(ConfigError, match="mix"):
        create("ensemble", **MEMBERS | {"mix": "per-user"}).fit(X, valid=VALID)


@pytest.mark.parametrize("mix", ["slots", "global"])
def test_a_continued_ensemble_mixes_only_items_its_continued_history_lacks(mix):
    # no refit: tested from train+valid while fitted on train; the valid items are masked
    # by the evaluator, so they must neither fill a slot of the mix nor take a rank in it
    model = create("ensemble", members=("ease", "pop"), member_params={"ease": {"l2": 5.0}}, mix=mix,
                   weights=None if mix == "slots" else {"ease": 1.0, "pop": 1.0}, valid_k=4).fit(X, valid=VALID)
    longer = model.continued(X + VALID, None)
    users = np.arange(N_USERS)
    scores = longer.score(users)
    assert np.isneginf(scores[(X + VALID).toarray() > 0]).all()
    assert np.isfinite(np.sort(scores, axis=1)[:, -4:]).all()  # every list still has 4 unseen items
    np.testing.assert_array_equal(model.score(users) > -np.inf, X.toarray() == 0)  # the fit itself masks train


@pytest.mark.parametrize("mix", ["global", "buckets", "slots"])
def test_fold_in_mixes_the_members_fold_ins_as_for_a_fitted_user(mix):
    params = {"mix": mix, "n_buckets": 2} if mix != "slots" else {"mix": "slots", "valid_k": 4}
    model = create("ensemble", **MEMBERS | params).fit(X, valid=VALID)
    assert model.can_fold_in
    users = np.array([0, 7, 21, 39])
    np.testing.assert_allclose(model.score_history(X[users]), model.score(users), rtol=1e-5, atol=1e-6)
    new = csr_from_indices(np.zeros(3, dtype=np.int64), np.array([13, 14, 15]), (1, X.shape[1]))
    scores = model.score_history(new)[0]
    assert np.isneginf(scores[[13, 14, 15]]).all()
    if mix != "slots":  # a blend puts the second group's block first (a slot mix may give pop's places)
        assert (np.argsort(-scores)[:5] >= BLOCK).all()


def test_fold_in_is_refused_with_the_reason_where_a_member_or_the_mix_cannot():
    reranked = create("ensemble", members=("ease", "rerank"), weights={"ease": 1.0, "rerank": 1.0},
                      member_params={"rerank": {"members": ("ease", "pop"), "iterations": 5}}).fit(X, valid=VALID)
    assert not reranked.can_fold_in
    with pytest.raises(ConfigError, match=r"members \['rerank'\] cannot score a new history"):
        reranked.score_history(X[:1])
    idle = create("ensemble", members=("ease", "rerank"), weights={"ease": 1.0, "rerank": 0.0},
                  member_params={"rerank": {"members": ("ease", "pop"), "iterations": 5}}).fit(X, valid=VALID)
    assert idle.can_fold_in  # a weight of 0 (as the guard gives a member it leaves out): no score of it is needed
    users = np.array([0, 7, 21])
    np.testing.assert_allclose(idle.score_history(X[users]), idle.score(users), rtol=1e-5, atol=1e-6)
    timed = create("ensemble", **MEMBERS | {"mix": "buckets", "bucket_by": "days_since_last"})
    timed.fit(X, valid=VALID, timestamps=_times(X))
    assert timed.bucket_choices_ and not timed.can_fold_in
    with pytest.raises(ConfigError, match="buckets of 'days_since_last'"):
        timed.score_history(X[:1])


def _times(matrix):
    times = matrix.copy()
    times.data = np.arange(1, matrix.nnz + 1, dtype=np.float64) * 86_400.0
    return times


def test_a_bucket_mix_folds_in_each_history_with_its_own_buckets_blend(monkeypatch):
    """Even users keep 4 items, odd ones 8: two buckets by history length, one blending
    EASE alone and one pop alone, so a history scored with the wrong bucket shows."""
    monkeypatch.setattr(ensemble_model, "MIN_BUCKET_USERS", 1)
    rows, cols = X.nonzero()
    keep = (np.arange(len(rows)) % 8) < np.where(rows % 2 == 0, 4, 8)
    ragged = csr_from_indices(rows[keep], cols[keep], X.shape)
    model = create("ensemble", **MEMBERS | {"mix": "buckets", "n_buckets": 2}).fit(ragged, valid=VALID)
    assert len(model.bucket_edges_) == 1
    model.bucket_choices_ = [ensemble_model.BlendChoice("rank", (1.0, 0.0), float("nan"), {}),
                             ensemble_model.BlendChoice("rank", (0.0, 1.0), float("nan"), {})]
    users = np.arange(N_USERS)
    np.testing.assert_allclose(model.score_history(ragged), model.score(users), rtol=1e-5, atol=1e-6)
    assert not np.allclose(model.score(users[::2]), model.score(users[1::2]))


def test_inner_members_see_only_the_tags_of_their_own_history(monkeypatch):
    """Every user tags each film they watch with a tag of their own (tags are events), so
    a pair the inner hold-out hides must not hand its item its viewer's tag: the inner
    members read the tags as seen from the inner history, and a reranker keeps no events."""
    import pandas as pd

    from movierec.data.dataset import EventField
    from movierec.data.encoded import EncodedFeatures, ItemEvents
    from movierec.models.popularity import Popularity
    from movierec.models.single import SINGLE_MODELS
    from tests.synthetic import timed_matrix

    X, T, _ = timed_matrix()
    users = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    events = pd.DataFrame({"user": users, "item": X.indices, "value": [f"own-{user}" for user in users]})
    features = ItemEvents({"tag": EventField("tag", events)}, EncodedFeatures(), pd.Index(np.arange(X.shape[0])),
                          pd.Index(np.arange(X.shape[1]))).seen_from(X)
    fits = []

    class Spy(Popularity):
        name = "spy"

        def _fit(self, X, *, features, valid, timestamps):
            fits.append((X.copy(), features))
            super()._fit(X, features=features, valid=valid, timestamps=timestamps)

    monkeypatch.setitem(SINGLE_MODELS, "spy", Spy)
    create("ensemble", members=("spy", "pop"), tune_on="inner", n_trials=2).fit(X, features=features, timestamps=T)
    assert len(fits) == 2 and fits[1][0].nnz < X.nnz  # the members on X, then the inner members
    for history, seen in fits:
        tags = seen.item_fields["tag"]
        viewers = {(int(value.removeprefix("own-")), item) for item in range(X.shape[1])
                   for value in tags.vocabulary[tags.matrix[item].indices]}
        watched = set(zip(*history.nonzero()))
        assert viewers == watched  # each watched pair's tag, and no held-out pair's
    reranker = create("rerank", members=("pop",), label_source="inner", iterations=5)
    reranker.fit(X, features=features, timestamps=T)
    assert reranker.features_.events is None and reranker.features_ == features


def test_tuning_recall_counts_no_hit_in_a_slot_scored_minus_infinity():
    """A member with one candidate: the other slots hold no item, so the hidden item 0
    that the top-k would otherwise fill them with (lowest index first) is not a hit."""
    from scipy import sparse

    from movierec.ensemble.tune import user_recalls

    scores = np.full((1, 5), -np.inf, dtype=np.float32)
    scores[0, 3] = 1.0
    truth = sparse.csr_matrix(np.array([[1, 0, 0, 0, 0]], dtype=np.float32))
    assert user_recalls(scores, truth, 3).tolist() == [0.0]
    scores[0, 0] = 0.5
    assert user_recalls(scores, truth, 3).tolist() == [1.0]
