"""The shared model interface (movierec.models.base): the fit template, protocols, defaults."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.exceptions import ConfigError, DataError
from movierec.models.base import OutOfFold, Recommender, init_with_defaults, validation_scorer
from movierec.models.registry import create
from movierec.models.torch import CFM, DeepCFM

X = sp.csr_matrix((np.random.default_rng(1).random((30, 12)) < 0.3).astype(np.float32))
HELD_OUT = sp.csr_matrix(((X.toarray() == 0) & (np.random.default_rng(2).random((30, 12)) < 0.2)).astype(np.float32))


def test_models_that_learn_nothing_from_valid_are_validated_with_their_scores():
    """Only `OutOfFold` models have a second scorer; users out of range are refused."""
    model = create("ease", l2=7.0).fit(X, valid=HELD_OUT)
    assert not isinstance(model, OutOfFold)
    users = np.arange(30)
    np.testing.assert_array_equal(validation_scorer(model)(users), model.score(users))
    with pytest.raises(DataError, match="user indices"):
        model.score(np.array([30]))


def test_fit_checks_its_inputs_once_for_every_model():
    model = create("pop")
    with pytest.raises(DataError, match="valid has shape"):
        model.fit(X, valid=X[:, :5])
    with pytest.raises(DataError, match="non-zeros of X"):
        model.fit(X, timestamps=X[:, ::-1])
    with pytest.raises(DataError, match="scipy sparse"):
        model.fit(X.toarray())
    for value in (np.nan, np.inf, -1.0):  # a weight no score could come from: named with its place
        bad = X.copy()
        bad.data[4] = value
        row, column = bad.nonzero()[0][4], bad.nonzero()[1][4]
        with pytest.raises(DataError, match=rf"X\[{row}, {column}\] is {value}: interactions must be finite"):
            model.fit(bad)
    assert not hasattr(model, "X_"), "a failed fit leaves the model unfitted"
    fitted = create("ease").fit(X)
    history = X[:2].copy()
    history.data[0] = np.nan
    with pytest.raises(DataError, match=r"history\[0, \d+\] is nan"):
        fitted.score_history(history)


def test_a_failing_fit_leaves_no_fitted_state():
    with pytest.raises(ConfigError, match="l2 > 0"):
        create("ease", l2=0.0).fit(X)
    model = create("ease", l2=1.0)
    with pytest.raises(DataError):
        model.fit(sp.csr_matrix((0, 3), dtype=np.float32))
    assert not hasattr(model, "X_")


def test_the_callers_matrix_is_kept_when_it_is_already_float32_csr_and_never_changed():
    unsorted = sp.csr_matrix((np.ones(2, dtype=np.float32), np.array([2, 0]), np.array([0, 2])), shape=(1, 3))
    assert not unsorted.has_sorted_indices
    model = create("pop").fit(unsorted)
    assert model.X_ is not unsorted and model.X_.has_sorted_indices
    assert unsorted.indices.tolist() == [2, 0], "the caller's matrix is not sorted in place"
    assert create("pop").fit(X).X_ is X


def test_fit_stamps_a_fingerprint_of_its_inputs():
    a = create("pop").fit(X)
    b = create("pop").fit(X.copy())
    c = create("pop").fit(X, valid=HELD_OUT)
    assert a.fit_fingerprint_ == b.fit_fingerprint_ != c.fit_fingerprint_


def test_a_model_states_only_the_defaults_it_changes():
    deep, plain = inspect.signature(DeepCFM.__init__).parameters, inspect.signature(CFM.__init__).parameters
    assert list(deep) == list(plain)
    changed = {name for name in plain if deep[name].default != plain[name].default}
    assert changed == {"channels", "depth", "batch_norm", "activation", "residual"}
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for name, p in deep.items() if name != "self")
    assert DeepCFM(depth=3).get_params() == CFM(**DeepCFM().get_params() | {"depth": 3}).get_params()
    with pytest.raises(TypeError, match="no parameters"):
        init_with_defaults(CFM.__init__, dept=3)
    with pytest.raises(TypeError):
        DeepCFM(dept=3)


def test_load_refuses_what_is_not_a_model(tmp_path):
    import pickle

    (tmp_path / "x.pkl").write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(DataError, match="not a saved movierec model"):
        Recommender.load(tmp_path / "x.pkl")


def test_recommend_takes_one_user_or_several_and_names_a_bad_k_or_mask():
    model = create("ease").fit(X)
    np.testing.assert_array_equal(model.recommend(3, k=4)[0], model.recommend([3], k=4)[0])
    for options, message in (({"k": 0}, "k must be a whole number >= 1, got 0"),
                             ({"k": 2.5}, "k must be a whole number"),
                             ({"batch_size": 0}, "batch_size must be a whole number >= 1")):
        with pytest.raises(ConfigError, match=message):
            model.recommend([0], **options)
    with pytest.raises(DataError, match=r"exclude must be a sparse users x items matrix of shape \(30, 12\)"):
        model.recommend([0], exclude=X[:2])


def test_a_validation_part_that_shares_pairs_with_x_is_refused():
    with pytest.raises(DataError, match=r"valid shares \d+ \(user, item\) pairs with X"):
        create("pop").fit(X, valid=X)


def test_user_indices_of_another_kind_are_refused_not_cast():
    """A raw id given as text ("1") or a float (1.7) would quietly become another user's row."""
    model = create("pop").fit(X)
    for users in (["1"], [1.7], np.array([True])):
        with pytest.raises(DataError, match="user indices must be integers"):
            model.recommend(users, k=2)
    assert model.recommend(np.array([1], dtype=np.uint8), k=2)[0].shape == (1, 2)
    assert model.score(np.array([], dtype=np.int64)).shape == (0, 12)
