"""The batched evaluator: masking, which users count, batch-size invariance.

Fixture (4 users x 6 items); every user scores items 0 > 1 > 2 > 3 > 4 > 5::

              item 0 1 2 3 4 5
    seen  u0       1 0 0 0 0 0      hidden u0   0 1 0 0 0 0
          u1       0 0 0 0 0 0             u1   1 0 0 0 0 0
          u2       1 1 0 0 0 0             u2   0 0 0 0 0 0   (no hidden items)
          u3       0 0 0 0 0 0             u3   0 0 0 0 1 1

With k = 2 and the seen items masked: u0 gets [1, 2] (hit), u1 [0, 1] (hit),
u3 [0, 1] (miss); u2 is not evaluated. Recall@2 = (1 + 1 + 0) / 3.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.evaluate import evaluate, evaluate_lists, sample_users
from movierec.exceptions import ConfigError

SEEN = sp.csr_matrix(np.array(
    [[1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]], dtype=np.float32))
HIDDEN = sp.csr_matrix(np.array(
    [[0, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1]], dtype=np.float32))


def descending(users: np.ndarray) -> np.ndarray:
    return np.tile(np.arange(6, 0, -1, dtype=np.float32), (len(users), 1))


def test_evaluate_hand_case():
    result = evaluate(descending, HIDDEN, exclude=SEEN, k=2)
    assert result.users.tolist() == [0, 1, 3]
    assert result.items.tolist() == [[1, 2], [0, 1], [0, 1]]
    assert result["recall@2"] == pytest.approx(2 / 3)
    assert result["recall_plain@2"] == pytest.approx(2 / 3)
    assert result["precision@2"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert result["hit_rate@2"] == pytest.approx(2 / 3)
    assert result["ndcg@2"] == pytest.approx((1 + 1 + 0) / 3)
    assert result["coverage@2"] == pytest.approx(3 / 6)
    assert result["users"] == 3


def test_without_masking_seen_items_take_the_places():
    result = evaluate(descending, HIDDEN, exclude=None, k=2)
    assert result.items.tolist() == [[0, 1], [0, 1], [0, 1]]
    assert result["recall@2"] == pytest.approx(2 / 3)  # u0 still hits item 1 at rank 2
    assert result["ndcg@2"] == pytest.approx((1 / np.log2(3) + 1) / 3)


def test_explicit_users_are_all_evaluated():
    result = evaluate(descending, HIDDEN, exclude=SEEN, k=2, users=np.array([2, 3]))
    assert result.users.tolist() == [2, 3]
    assert result["recall@2"] == 0.0


def test_batch_size_does_not_change_results():
    rng = np.random.default_rng(0)
    n_users, n_items = 57, 40
    table = rng.random((n_users, n_items)).astype(np.float32)
    seen = sp.random(n_users, n_items, density=0.2, format="csr", random_state=1)
    hidden = sp.random(n_users, n_items, density=0.1, format="csr", random_state=2)
    hidden = hidden - hidden.multiply(seen > 0)
    hidden.eliminate_zeros()
    runs = [evaluate(lambda u: table[u], hidden.tocsr(), exclude=seen, k=10, batch_size=b) for b in (1, 8, 1000)]
    for run in runs[1:]:
        assert run.metrics == runs[0].metrics
        np.testing.assert_array_equal(run.items, runs[0].items)
    # masked items never appear while enough unmasked items exist
    listed = sp.csr_matrix(
        (np.ones(runs[0].items.size), (np.repeat(runs[0].users, 10), runs[0].items.ravel())),
        shape=(n_users, n_items),
    )
    assert listed.multiply(seen).nnz == 0


def test_evaluate_lists_scores_ready_made_lists_with_padding():
    items = np.array([[1, -1], [-1, -1], [4, 5]])
    result = evaluate_lists(items, HIDDEN, users=np.array([0, 1, 3]), k=2)
    assert result["recall@2"] == pytest.approx((1 + 0 + 1) / 3)
    assert result["coverage@2"] == pytest.approx(3 / 6)


def test_evaluate_with_no_hidden_items_reports_zero_users():
    empty = sp.csr_matrix((4, 6), dtype=np.float32)
    result = evaluate(descending, empty, exclude=SEEN, k=2)
    assert result["users"] == 0
    assert result["recall@2"] == 0.0


def test_the_validation_sample_takes_every_user_at_none_or_zero_and_refuses_a_negative_count():
    truth = sp.csr_matrix(np.eye(5, dtype=np.float32))
    assert sample_users(truth, None, 0).tolist() == sample_users(truth, 0, 0).tolist() == [0, 1, 2, 3, 4]
    drawn = sample_users(truth, 3, 7)
    assert len(drawn) == 3 and drawn.tolist() == sorted(drawn) == sample_users(truth, 3, 7).tolist()
    with pytest.raises(ConfigError, match="whole number >= 0 or none .* got -1"):
        sample_users(truth, -1, 0)
