"""Member specs, fitting and reuse of fitted members (movierec.models.members)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.data.dataset import FieldKind
from movierec.data.encoded import EncodedFeatures, FeatureField
from movierec.data.interactions import csr_from_indices
from movierec.exceptions import ConfigError
from movierec.models.members import fit_fingerprint, fit_members, member_names, parse_member
from tests.synthetic import timed_matrix


def test_member_aliases_fit_one_model_with_two_parameter_sets():
    X, T, _ = timed_matrix()
    members = fit_members("ease, recent=ease", {"ease": {"l2": 2.0}, "recent": {"l2": 2.0, "recency_decay": 0.5}},
                          X, timestamps=T)
    assert list(members) == ["ease", "recent"] == list(member_names("ease, recent=ease"))
    assert members["recent"].recency_decay == 0.5
    users = np.arange(5)
    assert not np.allclose(members["ease"].score(users), members["recent"].score(users))


def test_fitted_members_are_reused_only_for_the_same_model_parameters_and_inputs():
    X, T, _ = timed_matrix()
    ease = fit_members("ease", {"ease": {"l2": 2.0}}, X, timestamps=T)["ease"]
    again = {"ease": ease}
    assert fit_members("ease,pop", {"ease": {"l2": 2.0}}, X, timestamps=T, fitted_members=again)["ease"] is ease
    assert fit_members("ease", {"ease": {"l2": 3.0}}, X, timestamps=T, fitted_members=again)["ease"] is not ease
    assert fit_members("pop", None, X, fitted_members={"pop": ease})["pop"].name == "pop"  # another model
    other, other_times, _ = timed_matrix(seed=1)
    refit = fit_members("ease", {"ease": {"l2": 2.0}}, other, timestamps=other_times, fitted_members=again)["ease"]
    assert refit is not ease and refit.X_.nnz == other.nnz
    # same X, but another valid, other timestamps (EASE reads them) or other features: fitted again
    valid = csr_from_indices(np.array([0]), np.array([0]), X.shape)
    assert fit_members("ease", {"ease": {"l2": 2.0}}, X, timestamps=T, valid=valid, fitted_members=again)["ease"] \
        is not ease
    later = T.copy()
    later.data = later.data + 1.0
    assert fit_members("ease", {"ease": {"l2": 2.0}}, X, timestamps=later, fitted_members=again)["ease"] is not ease
    features = EncodedFeatures(item_fields={"genre": FeatureField(
        "genre", FieldKind.MULTI_HOT, sp.identity(X.shape[1], format="csr", dtype=np.float32),
        np.arange(X.shape[1]).astype(str))})
    assert fit_members("ease", {"ease": {"l2": 2.0}}, X, timestamps=T, features=features,
                       fitted_members=again)["ease"] is not ease


def test_models_that_ignore_timestamps_are_reused_with_or_without_them():
    X, T, _ = timed_matrix()
    pop = fit_members("pop", None, X)["pop"]
    assert fit_members("pop", None, X, timestamps=T, fitted_members={"pop": pop})["pop"] is pop


def test_fit_fingerprint_tells_inputs_apart_and_ignores_copies():
    X, T, _ = timed_matrix()
    assert fit_fingerprint(X, None, None, T) == fit_fingerprint(X.copy(), None, None, T.copy())
    assert fit_fingerprint(X, None, None, T) != fit_fingerprint(X, None, None, None)
    assert fit_fingerprint(X, None, None, None) != fit_fingerprint(X, None, X, None)  # valid counts


@pytest.mark.parametrize("spec", ["=ease", "recent=", " = "])
def test_malformed_member_specs_are_named(spec):
    with pytest.raises(ConfigError, match="alias=model"):
        parse_member(spec)
