"""Bootstrap intervals against the closed form, and paired comparisons that detect
a planted difference and never call identical lists different."""

import numpy as np
import pytest

from movierec.evaluate.confidence import (
    bootstrap_interval,
    bootstrap_intervals,
    bootstrap_means,
    compare_paired,
    holm,
)
from movierec.exceptions import ConfigError


def test_the_bootstrap_interval_of_a_mean_matches_the_normal_closed_form():
    values = np.random.default_rng(1).binomial(1, 0.3, size=4000).astype(float)
    interval = bootstrap_interval(values, resamples=4000, seed=0)
    half = 1.959964 * values.std(ddof=0) / np.sqrt(len(values))  # the CLT interval of a mean
    assert interval.mean == pytest.approx(values.mean())
    assert interval.low == pytest.approx(values.mean() - half, abs=0.1 * half)
    assert interval.high == pytest.approx(values.mean() + half, abs=0.1 * half)


def test_intervals_of_several_columns_equal_one_column_at_a_time():
    rng = np.random.default_rng(2)
    a, b = rng.random(300), rng.random(300)
    both = bootstrap_intervals({"a": a, "b": b}, seed=5)
    assert both["a"] == bootstrap_interval(a, seed=5)  # the same resamples, the same rows
    assert both["b"].low < both["b"].mean < both["b"].high


def test_the_same_seed_gives_the_same_resamples_and_columns_are_resampled_together():
    values = np.arange(10.0)
    np.testing.assert_array_equal(bootstrap_means(values, seed=3), bootstrap_means(values, seed=3))
    paired = bootstrap_means(np.column_stack([values, values + 1]), resamples=50, seed=3)
    np.testing.assert_allclose(paired[:, 1] - paired[:, 0], 1.0)


def test_a_planted_difference_is_found_and_its_interval_covers_it():
    rng = np.random.default_rng(0)
    base = rng.binomial(1, 0.3, size=1000).astype(float)
    better = np.where(rng.random(1000) < 0.1, 1.0, base)  # ~7 % of users gain a hit
    noise = base.copy()  # as many users lose a hit as gain one
    noise[np.flatnonzero(base == 1)[:10]], noise[np.flatnonzero(base == 0)[:10]] = 0.0, 1.0
    result = {c.model: c for c in compare_paired({"base": base, "better": better, "noise": noise}, "base")}
    planted = (better - base).mean()
    assert result["better"].verdict == "better"
    assert result["better"].difference.low <= planted <= result["better"].difference.high
    assert result["noise"].verdict == "no detectable difference"
    flipped = {c.model: c for c in compare_paired({"better": better, "base": base}, "better")}
    assert flipped["base"].verdict == "worse"


def test_the_verdict_is_about_the_mean_difference():
    # many users lose a little, a few gain a lot: the mean rises, and so says the verdict
    difference = np.r_[np.full(380, -0.01), np.full(20, 0.5)]
    (comparison,) = compare_paired({"ref": np.full(400, 0.5), "other": 0.5 + difference}, "ref")
    assert comparison.difference.mean > 0 and comparison.verdict == "better"
    assert comparison.difference.low > 0


def test_identical_lists_are_never_called_different():
    values = np.random.default_rng(0).random(500)
    (comparison,) = compare_paired({"a": values, "b": values.copy()}, "a")
    assert comparison.verdict == "no detectable difference" and comparison.p_value == 1.0
    assert comparison.difference.low == comparison.difference.high == 0.0


def test_holm_steps_down():
    np.testing.assert_allclose(holm(np.array([0.01, 0.04, 0.03])), [0.03, 0.06, 0.06])


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ConfigError, match="same users"):
        compare_paired({"a": np.zeros(3), "b": np.zeros(4)}, "a")
    with pytest.raises(ConfigError, match="level"):
        bootstrap_interval(np.zeros(3), level=95)
    with pytest.raises(ConfigError, match="reference model 'c'"):
        compare_paired({"a": np.zeros(3)}, "c")
