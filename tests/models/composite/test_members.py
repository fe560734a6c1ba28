"""Member specs, fitting and reuse of fitted members (movierec.models.composite.members)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.data.dataset import FieldKind
from movierec.data.encoded import EncodedFeatures, FeatureField
from movierec.data.interactions import csr_from_indices
from movierec.exceptions import ConfigError
from movierec.models.base import fit_fingerprint
from movierec.models.composite.members import check_members, fit_members, member_names, parse_member
from movierec.models.single import SINGLE_MODELS
from tests.synthetic import timed_matrix


def _fit(members, params, X, **kwargs):
    return fit_members(members, params, X, catalogue=SINGLE_MODELS, **kwargs)


def test_member_aliases_fit_one_model_with_two_parameter_sets():
    X, T, _ = timed_matrix()
    members = _fit("ease, recent=ease", {"ease": {"l2": 2.0}, "recent": {"l2": 2.0, "recency_decay": 0.5}},
                   X, timestamps=T)
    assert list(members) == ["ease", "recent"] == list(member_names("ease, recent=ease"))
    assert members["recent"].recency_decay == 0.5
    users = np.arange(5)
    assert not np.allclose(members["ease"].score(users), members["recent"].score(users))


def test_fitted_members_are_reused_only_for_the_same_model_parameters_and_inputs():
    X, T, _ = timed_matrix()
    ease = _fit("ease", {"ease": {"l2": 2.0}}, X, timestamps=T)["ease"]
    again = {"ease": ease}
    assert _fit("ease,pop", {"ease": {"l2": 2.0}}, X, timestamps=T, fits=again)["ease"] is ease
    assert _fit("ease", {"ease": {"l2": 3.0}}, X, timestamps=T, fits=again)["ease"] is not ease
    assert _fit("pop", None, X, fits={"pop": ease})["pop"].name == "pop"  # another model
    other, other_times, _ = timed_matrix(seed=1)
    refit = _fit("ease", {"ease": {"l2": 2.0}}, other, timestamps=other_times, fits=again)["ease"]
    assert refit is not ease and refit.X_.nnz == other.nnz
    # same X, but another valid, other timestamps or other features: fitted again
    valid = csr_from_indices(np.array([0]), np.array([0]), X.shape)
    assert _fit("ease", {"ease": {"l2": 2.0}}, X, timestamps=T, valid=valid, fits=again)["ease"] is not ease
    later = T.copy()
    later.data = later.data + 1.0
    assert _fit("ease", {"ease": {"l2": 2.0}}, X, timestamps=later, fits=again)["ease"] is not ease
    features = EncodedFeatures(item_fields={"genre": FeatureField(
        "genre", FieldKind.MULTI_HOT, sp.identity(X.shape[1], format="csr", dtype=np.float32),
        np.arange(X.shape[1]).astype(str))})
    assert _fit("ease", {"ease": {"l2": 2.0}}, X, timestamps=T, features=features, fits=again)["ease"] is not ease


def test_fit_fingerprint_tells_inputs_apart_and_ignores_copies():
    X, T, _ = timed_matrix()
    assert fit_fingerprint(X, None, None, T) == fit_fingerprint(X.copy(), None, None, T.copy())
    assert fit_fingerprint(X, None, None, T) != fit_fingerprint(X, None, None, None)
    assert fit_fingerprint(X, None, None, None) != fit_fingerprint(X, None, X, None)  # valid counts


@pytest.mark.parametrize("spec", ["=ease", "recent=", " = "])
def test_malformed_member_specs_are_named(spec):
    with pytest.raises(ConfigError, match="alias=model"):
        parse_member(spec)


def test_members_come_from_the_catalogue_given():
    with pytest.raises(ConfigError, match=r"rerank members cannot be \['ensemble'\]; a rerank holds .*ease"):
        check_members("rerank", "ease,ensemble", SINGLE_MODELS)
    with pytest.raises(ConfigError, match="distinct"):
        check_members("rerank", "ease,ease", SINGLE_MODELS)
    with pytest.raises(ConfigError, match="unknown member model"):
        _fit("nosuch", None, timed_matrix()[0])
    with pytest.raises(ConfigError, match="member model 'ease'"):
        _fit("ease", {"ease": {"alpha": 1.0}}, timed_matrix()[0])


@pytest.mark.parametrize("name", ["rerank", "ensemble"])
def test_member_params_for_no_member_or_not_a_table_are_errors_naming_them(name):
    from movierec.models.registry import create

    with pytest.raises(ConfigError, match=f"{name} member_params names 'eas', not a member \\(ease, pop\\)"):
        create(name, members=("ease", "pop"), member_params={"eas": {"l2": 5.0}}).check_params()
    with pytest.raises(ConfigError, match=f"{name} member_params.ease is a table of that member's parameters"):
        create(name, members=("ease", "pop"), member_params={"ease": 5}).check_params()
    create(name, members=("ease", "pop"), member_params={"ease": {"l2": 5.0}}).check_params()
