"""The shared model interface (movierec.models.base): loading older saves, out-of-fold scores."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.exceptions import DataError
from movierec.models.base import Recommender
from movierec.models.registry import create


def test_a_model_saved_before_a_parameter_existed_loads_with_its_default(tmp_path):
    X = sp.csr_matrix((np.random.default_rng(0).random((30, 12)) < 0.3).astype(np.float32))
    model = create("ease", l2=7.0, recency_decay=1.0).fit(X)
    expected = model.score(np.arange(5))
    del model.recency_decay, model.recency_floor  # as if saved before they were added
    model.save(tmp_path / "old.pkl")
    loaded = Recommender.load(tmp_path / "old.pkl")
    assert loaded.get_params() == {"l2": 7.0, "max_items": None, "recency_decay": 1.0, "recency_floor": 0.0}
    np.testing.assert_array_equal(loaded.score(np.arange(5)), expected)


def test_models_that_learn_nothing_from_valid_score_it_as_anything_else():
    """`score_out_of_fold` is `score` unless a model took labels from validation; users
    out of range are refused by both."""
    X = sp.csr_matrix((np.random.default_rng(1).random((30, 12)) < 0.3).astype(np.float32))
    model = create("ease", l2=7.0).fit(X, valid=X)
    np.testing.assert_array_equal(model.score_out_of_fold(np.arange(6)), model.score(np.arange(6)))
    for scorer in (model.score, model.score_out_of_fold):
        with pytest.raises(DataError, match="user indices"):
            scorer(np.array([30]))
