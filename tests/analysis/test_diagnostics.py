"""Diagnostics: spread of scores, gradient and dead-unit summaries, the collapse experiment.

The experiment runs on a tiny planted matrix (16 users x 12 items, two blocks) so it
only checks the shape and sanity of what is reported, not the ml-100k finding.
"""

import numpy as np
import pytest

from movierec.analysis.diagnostics import (
    collapse_experiment,
    collapse_table,
    dead_summary,
    gradient_summary,
    score_spread,
)
from movierec.data.interactions import csr_from_indices


def test_constant_scores_have_no_spread():
    spread = score_spread(np.full((4, 6), 2.5))
    assert spread == {"item_spread": 0.0, "user_spread": 0.0, "relative_spread": 0.0}


def test_spread_hand_computed_and_ignores_minus_inf():
    scores = np.array([[0.0, 2.0, -np.inf], [1.0, 1.0, -np.inf]])
    spread = score_spread(scores)
    assert spread["item_spread"] == pytest.approx(np.median([1.0, 0.0]))  # stds 1 and 0
    assert spread["user_spread"] == pytest.approx(np.median([0.5, 0.5]))
    assert spread["relative_spread"] == pytest.approx(0.5 / 1.0)


def test_history_summaries():
    history = [{"grad_norms": {"blocks.0": 1.0, "users": 2.0}, "dead_share": {"a": 0.5}},
               {"grad_norms": {"blocks.0": 0.1, "users": 3.0}, "dead_share": {"a": 0.25}}]
    assert gradient_summary(history)["blocks.0"] == {"first_epoch": 1.0, "last_epoch": 0.1}
    assert dead_summary(history) == {"a": 0.25}
    assert gradient_summary([]) == {} and dead_summary([{}]) == {}


def test_collapse_experiment_reports_every_configuration():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(16), 4)
    items = (users // 8) * 6 + rng.integers(0, 5, size=len(users))  # item 5 of a block: the held-out one
    X = csr_from_indices(users, items, (16, 12))
    valid = csr_from_indices(np.arange(16), (np.arange(16) // 8) * 6 + 5, (16, 12))
    rows = collapse_experiment(X, valid, depth=4, epochs=1, n_users=5, n_items=6,
                               model_params={"dim": 4, "channels": 4, "batch_size": 16, "device": "cpu",
                                             "valid_users": None})
    assert [row["config"] for row in rows] == ["plain (no BN, ReLU)", "BN, ReLU", "BN, leaky ReLU, residual"]
    for row in rows:
        assert len(row["valid_recall"]) == 1 and 0.0 <= row["dead_share"] <= 1.0
        assert row["grad_first_block"] >= 0.0 and np.isfinite(row["interaction_spread"]["item_spread"])
    table = collapse_table(rows)
    assert table.count("\n") == 4 and "BN, leaky ReLU, residual" in table
