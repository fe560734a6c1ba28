"""Per-user normalisation, weighted blends and reciprocal rank fusion, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.ensemble.blend import blend, blend_stack, normalised_stack
from movierec.ensemble.normalise import normalise, ranks
from movierec.exceptions import ConfigError

NEG = -np.inf
# one user, four items; item 3 is excluded (seen)
ROW = np.array([[2.0, 6.0, 4.0, NEG]], dtype=np.float32)


def test_ranks_break_ties_by_lower_index():
    assert ranks(np.array([[1.0, 3.0, 3.0, 0.0]])).tolist() == [[2, 0, 1, 3]]


@pytest.mark.parametrize(
    "method, expected",
    [
        ("rank", [1 / 3, 1.0, 2 / 3, 0.0]),  # 1 - rank / 3 valid items
        ("minmax", [0.0, 1.0, 0.5, 0.0]),
        # mean 4, std sqrt(8/3); the excluded item takes the row minimum
        ("zscore", [-2 / np.sqrt(8 / 3), 2 / np.sqrt(8 / 3), 0.0, -2 / np.sqrt(8 / 3)]),
        ("rrf", [1 / 63, 1 / 61, 1 / 62, 0.0]),  # 1 / (60 + rank + 1)
    ],
)
def test_normalisations_by_hand(method, expected):
    np.testing.assert_allclose(normalise(ROW, method)[0], expected, rtol=1e-6)


def test_normalisation_is_per_user_and_scale_free():
    two = np.vstack([ROW, 100 * ROW])
    for method in ("rank", "minmax", "zscore", "rrf"):
        out = normalise(two, method)
        np.testing.assert_allclose(out[0], out[1], rtol=1e-5)
    with pytest.raises(ConfigError, match="unknown"):
        normalise(ROW, "softmax")


def test_blend_by_hand_and_excluded_items():
    a = np.array([[3.0, 1.0, 2.0, NEG]])
    b = np.array([[0.0, 5.0, 4.0, NEG]])
    # rank: a -> [1, 1/3, 2/3], b -> [1/3, 1, 2/3]; weights 1, 2 -> [5/3, 7/3, 2]
    out = blend([a, b], [1.0, 2.0], method="rank")
    np.testing.assert_allclose(out[0, :3], [5 / 3, 7 / 3, 2.0], rtol=1e-6)
    assert out[0, 3] == NEG
    only_b = np.array([[NEG, 5.0, 4.0, 1.0]])
    kept = blend([a, only_b], [1.0, 1.0], method="minmax", exclude_any=True)
    assert np.isneginf(kept[0, [0, 3]]).all() and np.isfinite(kept[0, [1, 2]]).all()
    with pytest.raises(ConfigError, match="one weight per member"):
        blend([a, b], [1.0])


def test_rrf_equals_the_formula_and_the_stack_path_agrees():
    rng = np.random.default_rng(0)
    members = [rng.random((5, 8)) for _ in range(3)]
    fused = blend(members, [1, 1, 1], method="rrf", rrf_k=10.0)
    by_hand = sum(1.0 / (10.0 + ranks(m) + 1.0) for m in members)
    np.testing.assert_allclose(fused, by_hand, rtol=1e-5)
    stack = normalised_stack(members, "rrf", rrf_k=10.0)
    np.testing.assert_allclose(blend_stack(stack, np.ones(3), np.zeros((5, 8), bool)), fused, rtol=1e-6)
