"""Each metric: a hand-computed case, then a check against independent implementations.

The hand-computed lists (k = 5; ``*`` marks a hidden item)::

    user 0  hidden {10, 11, 12}   list  10*  20  11*  21  22     hits 1 0 1 0 0
    user 1  hidden {30}           list  20   21  22   23  30*    hits 0 0 0 0 1
    user 2  hidden {}             list  20   21  22   23  24     hits 0 0 0 0 0
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.evaluate import metrics

N_ITEMS = 40
LISTS = np.array([[10, 20, 11, 21, 22], [20, 21, 22, 23, 30], [20, 21, 22, 23, 24]])
HIDDEN = [[10, 11, 12], [30], []]


def _truth(hidden: list[list[int]], n_items: int = N_ITEMS) -> sp.csr_matrix:
    rows = np.repeat(np.arange(len(hidden)), [len(h) for h in hidden])
    cols = np.concatenate([np.asarray(h, dtype=np.int64) for h in hidden])
    return sp.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)), shape=(len(hidden), n_items))


@pytest.fixture
def hits() -> np.ndarray:
    return metrics.hits_matrix(LISTS, _truth(HIDDEN))


N_RELEVANT = np.array([3, 1, 0])


def test_hits_matrix_hand(hits):
    assert hits.astype(int).tolist() == [[1, 0, 1, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]


def test_hits_matrix_never_counts_padding():
    truth = _truth([[0]])  # item 0 is hidden; -1 must not wrap onto it or the last item
    assert not metrics.hits_matrix(np.array([[-1, -1]]), truth).any()
    assert metrics.hits_matrix(np.zeros((0, 3), dtype=np.int64), truth[:0]).shape == (0, 3)


def test_hits_matrix_counts_a_repeated_item_once():
    """List 30 20 30 30 for hidden {30}: a hit at rank 0 only."""
    hits = metrics.hits_matrix(np.array([[30, 20, 30, 30], [20, 30, 20, 30]]), _truth([[30], [30]]))
    assert hits.astype(int).tolist() == [[1, 0, 0, 0], [0, 1, 0, 0]]
    assert metrics.recall_normalized_at_k(hits, np.array([1, 1]), 4).tolist() == [1.0, 1.0]


def test_recall_normalized_hand(hits):
    # hits / min(k, |hidden|); a user with nothing hidden scores 0, not nan
    np.testing.assert_allclose(metrics.recall_normalized_at_k(hits, N_RELEVANT, 5), [2 / 3, 1.0, 0.0])
    np.testing.assert_allclose(metrics.recall_normalized_at_k(hits, N_RELEVANT, 2), [1 / 2, 0.0, 0.0])


def test_recall_normalized_divides_by_k_when_more_are_hidden():
    """12 hidden items, 3 hits in the top 10: normalised 3/10, plain 3/12."""
    hits = np.zeros((1, 10), dtype=bool)
    hits[0, [0, 4, 9]] = True
    assert metrics.recall_normalized_at_k(hits, np.array([12]), 10)[0] == pytest.approx(0.3)
    assert metrics.recall_at_k(hits, np.array([12]), 10)[0] == pytest.approx(0.25)


def test_recall_plain_hand(hits):
    np.testing.assert_allclose(metrics.recall_at_k(hits, N_RELEVANT, 5), [2 / 3, 1.0, 0.0])
    np.testing.assert_allclose(metrics.recall_at_k(hits, N_RELEVANT, 2), [1 / 3, 0.0, 0.0])


def test_ndcg_hand(hits):
    user0 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    user1 = (1 / math.log2(6)) / 1.0
    np.testing.assert_allclose(metrics.ndcg_at_k(hits, N_RELEVANT, 5), [user0, user1, 0.0])
    assert user0 == pytest.approx(0.703918, abs=1e-6)


def test_ndcg_is_one_for_a_perfect_list():
    hits = np.array([[True, True, False, False]])
    assert metrics.ndcg_at_k(hits, np.array([2]), 4)[0] == pytest.approx(1.0)


def test_precision_and_hit_rate_hand(hits):
    np.testing.assert_allclose(metrics.precision_at_k(hits, 5), [0.4, 0.2, 0.0])
    np.testing.assert_allclose(metrics.precision_at_k(hits, 2), [0.5, 0.0, 0.0])
    np.testing.assert_array_equal(metrics.hit_rate_at_k(hits, 5), [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(metrics.hit_rate_at_k(hits, 3), [1.0, 0.0, 0.0])


def test_coverage_hand():
    # distinct items: 10 11 20 21 22 23 24 30 = 8 of 40; padding (-1) is not an item
    assert metrics.coverage(LISTS, N_ITEMS) == pytest.approx(8 / 40)
    assert metrics.coverage(np.array([[-1, 3]]), 4) == pytest.approx(1 / 4)


# ---- independent implementations -------------------------------------------------


def _reference(lists: np.ndarray, hidden: list[set[int]], k: int) -> dict[str, np.ndarray]:
    """Plain-Python metrics written from their textbook definitions, one user at a time."""
    out: dict[str, list[float]] = {m: [] for m in ("recall", "plain", "ndcg", "precision", "hit")}
    for ranked, relevant in zip(lists, hidden):
        top = [int(i) for i in ranked[:k]]
        n_hits = sum(i in relevant for i in top)
        dcg = sum(1 / math.log2(rank + 2) for rank, i in enumerate(top) if i in relevant)
        idcg = sum(1 / math.log2(rank + 2) for rank in range(min(k, len(relevant))))
        out["recall"].append(n_hits / min(k, len(relevant)) if relevant else 0.0)
        out["plain"].append(n_hits / len(relevant) if relevant else 0.0)
        out["ndcg"].append(dcg / idcg if idcg else 0.0)
        out["precision"].append(n_hits / k)
        out["hit"].append(float(n_hits > 0))
    return {name: np.array(values) for name, values in out.items()}


def test_metrics_equal_a_plain_python_reference_on_random_lists():
    rng = np.random.default_rng(3)
    n_users, n_items, k = 200, 60, 10
    lists = np.stack([rng.permutation(n_items)[:k] for _ in range(n_users)])
    hidden = [set(rng.choice(n_items, size=rng.integers(0, 25), replace=False).tolist()) for _ in range(n_users)]
    hits = metrics.hits_matrix(lists, _truth([sorted(h) for h in hidden], n_items))
    n_relevant = np.array([len(h) for h in hidden])
    expected = _reference(lists, hidden, k)
    np.testing.assert_allclose(metrics.recall_normalized_at_k(hits, n_relevant, k), expected["recall"])
    np.testing.assert_allclose(metrics.recall_at_k(hits, n_relevant, k), expected["plain"])
    np.testing.assert_allclose(metrics.ndcg_at_k(hits, n_relevant, k), expected["ndcg"])
    np.testing.assert_allclose(metrics.precision_at_k(hits, k), expected["precision"])
    np.testing.assert_allclose(metrics.hit_rate_at_k(hits, k), expected["hit"])
    assert metrics.coverage(lists, n_items) == len(set(lists.ravel().tolist())) / n_items


def test_ndcg_equals_scikit_learn():
    """scikit-learn's ndcg_score with binary gains over the full catalogue."""
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(4)
    n_users, n_items, k = 100, 50, 10
    scores = rng.random((n_users, n_items))  # distinct, so sklearn's tie averaging is moot
    relevance = (rng.random((n_users, n_items)) < 0.15).astype(float)
    relevance[relevance.sum(axis=1) == 0, 0] = 1.0  # sklearn scores an empty row as 0 too, keep it simple
    lists = np.argsort(-scores, axis=1)[:, :k]
    hits = metrics.hits_matrix(lists, sp.csr_matrix(relevance))
    ours = metrics.ndcg_at_k(hits, relevance.sum(axis=1).astype(int), k)
    theirs = [sklearn_metrics.ndcg_score(relevance[[u]], scores[[u]], k=k) for u in range(n_users)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
