"""The shared model interface (movierec.models.base): loading older saves."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

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
