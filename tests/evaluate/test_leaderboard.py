"""The public/private simulation on cases whose answer is known."""

import numpy as np
import pytest

from movierec.evaluate.leaderboard import leaderboard_risk
from movierec.exceptions import ConfigError


def test_a_model_better_for_every_user_always_leads_both_halves():
    base = np.random.default_rng(0).random(200)
    risk = leaderboard_risk({"a": base, "b": base + 0.1}, repeats=200, fixed_choice="b")
    assert risk.same_leader == 1.0 and risk.chosen_share == {"a": 0.0, "b": 1.0}
    assert risk.fixed_choice_best_private == 1.0


def test_models_equal_over_all_users_swap_places_between_the_halves():
    rng = np.random.default_rng(0)
    base = rng.binomial(1, 0.3, size=400).astype(float)
    scores = {name: rng.permutation(base) for name in "abcd"}  # the same total, spread differently
    risk = leaderboard_risk(scores, repeats=500, seed=1)
    # equal totals: whoever leads the public half has the least left for the private one
    assert risk.same_leader == 0.0
    assert risk.public_to_private < 0 and risk.public_to_private_low < risk.public_to_private
    assert all(0.1 < share < 0.4 for share in risk.chosen_share.values())
    assert leaderboard_risk(scores, repeats=500, seed=1) == risk


def test_a_small_true_lead_survives_the_private_half_more_often_than_chance():
    rng = np.random.default_rng(0)
    base = rng.binomial(1, 0.3, size=2000).astype(float)
    lead = base.copy()
    lead[np.flatnonzero(base == 0)[:40]] = 1.0  # 40 users gain a hit, 20 lose one: +0.01 in all
    lead[np.flatnonzero(base == 1)[:20]] = 0.0
    risk = leaderboard_risk({"base": base, "lead": lead}, repeats=500, fixed_choice="lead")
    assert risk.same_leader > 0.9 and risk.fixed_choice_best_private > 0.9


def test_identical_lists_share_the_lead_instead_of_the_first_taking_it():
    base = np.random.default_rng(0).random(100)
    risk = leaderboard_risk({"a": base, "b": base.copy()}, repeats=400)
    assert risk.same_leader == 1.0  # whichever is picked is (jointly) best on the private half
    assert 0.4 < risk.chosen_share["a"] < 0.6


@pytest.mark.parametrize("scores, repeats, message", [
    ({"a": np.zeros(5)}, 10, "at least two models"),
    ({"a": np.zeros(5), "b": np.array([0, 1, np.nan, 0, 0])}, 10, "'b' are not all finite"),
    ({"a": np.zeros(5), "b": np.zeros(5)}, 0, "repeats must be at least 1"),
])
def test_bad_inputs_say_what_is_wrong(scores, repeats, message):
    with pytest.raises(ConfigError, match=message):
        leaderboard_risk(scores, repeats=repeats)
