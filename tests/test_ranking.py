"""top_k, mask_seen and recommend_batched: the one place lists are cut and masked."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from movierec import ranking
from movierec.exceptions import DataError
from movierec.ranking import SameRow, mask_seen, recommend_batched, top_k


def test_top_k_orders_best_first_with_values():
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [3.0, 1.0, 2.0, 0.0]])
    items, values = top_k(scores, 3)
    assert items.tolist() == [[1, 3, 2], [0, 2, 1]]
    np.testing.assert_array_equal(values, [[0.9, 0.7, 0.5], [3.0, 2.0, 1.0]])
    assert items.dtype == np.int64


def test_top_k_ties_break_by_lower_index_also_at_the_cut():
    """A row of 100 scores where items 50..99 tie at 1: the list is 50, 51, 52.

    numpy's argpartition alone returns an arbitrary subset of tied items (e.g. 51, 60,
    61), so this checks the tie fix-up, not the partition's luck.
    """
    scores = np.zeros((2, 100))
    scores[:, 50:] = 1.0
    scores[1, 70] = 2.0
    items, _ = top_k(scores, 3)
    assert items.tolist() == [[50, 51, 52], [70, 50, 51]]


def test_top_k_matches_a_full_stable_sort_on_heavily_tied_scores():
    """Independent check: a stable argsort of -scores gives the same lists."""
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(50, 300)).astype(np.float32)
    for k in (1, 7, 299, 300):
        expected = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        assert np.array_equal(top_k(scores, k)[0], expected), k


def test_top_k_caps_k_at_the_number_of_columns():
    items, values = top_k(np.array([[0.2, 0.1]]), 5)
    assert items.tolist() == [[0, 1]]
    assert values.shape == (1, 2)


def test_top_k_with_k_zero_or_an_empty_block():
    items, values = top_k(np.ones((2, 3)), 0)
    assert items.shape == (2, 0) and values.shape == (2, 0)
    assert top_k(np.ones((0, 3)), 2)[0].shape == (0, 2)


def test_top_k_puts_nan_last():
    items, _ = top_k(np.array([[np.nan, 2.0, 1.0, np.nan]]), 3)
    assert items.tolist() == [[1, 2, 0]]


def test_mask_seen_sets_seen_items_to_minus_inf_in_place():
    scores = np.ones((2, 3))
    seen = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1]], dtype=np.float32))
    out = mask_seen(scores, seen)
    assert out is scores
    assert np.isneginf(scores).tolist() == [[False, True, False], [True, False, True]]
    assert mask_seen(np.ones((1, 2)), None).tolist() == [[1.0, 1.0]]


def test_recommend_batched_masks_exclude_rows_of_the_requested_users():
    """Scores rank items 0 > 1 > 2 > 3 for everybody; exclude differs per user.

        exclude   item0 item1 item2 item3
        user 0      1     0     0     0
        user 1      0     1     0     0
        user 2      0     0     0     0
    """
    exclude = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]], dtype=np.float32))

    def score(users):
        return np.tile(np.array([4.0, 3.0, 2.0, 1.0]), (len(users), 1))

    items, _ = recommend_batched(score, np.array([2, 1, 0]), 2, exclude=exclude)
    assert items.tolist() == [[0, 1], [0, 2], [1, 2]]


@pytest.mark.parametrize("batch_size", [1, 2, 3, 1000])
def test_recommend_batched_is_independent_of_batch_size(batch_size):
    rng = np.random.default_rng(1)
    table = rng.random((7, 20)).astype(np.float32)
    exclude = sp.random(7, 20, density=0.3, format="csr", random_state=2)
    users = np.array([6, 0, 3, 3, 5])
    reference = recommend_batched(lambda u: table[u], users, 5, exclude=exclude, batch_size=len(users))
    items, values = recommend_batched(lambda u: table[u], users, 5, exclude=exclude, batch_size=batch_size)
    np.testing.assert_array_equal(items, reference[0])
    np.testing.assert_array_equal(values, reference[1])


def test_recommend_batched_pads_with_minus_one_when_k_exceeds_items():
    items, values = recommend_batched(lambda u: np.ones((len(u), 3)), np.arange(2), 5)
    assert items.tolist() == [[0, 1, 2, -1, -1]] * 2
    assert np.isneginf(values[:, 3:]).all()
    seen = sp.csr_matrix(np.array([[1, 1, 0], [0, 0, 0]], dtype=np.float32))
    items, values = recommend_batched(lambda u: np.ones((len(u), 3)), np.arange(2), 3, exclude=seen)
    assert items.tolist() == [[2, -1, -1], [0, 1, 2]]  # seen items never fill a list, even a short one
    scores = np.array([[1.0, -np.inf, 2.0]])  # an item scored -inf (never recommended) neither
    assert recommend_batched(lambda u: scores, np.arange(1), 3)[0].tolist() == [[2, 0, -1]]


def test_recommend_batched_does_not_modify_the_model_scores():
    table = np.arange(12, dtype=np.float32).reshape(3, 4)
    exclude = sp.csr_matrix(np.eye(3, 4, dtype=np.float32))
    recommend_batched(lambda u: table, np.arange(3), 2, exclude=exclude)  # a view, not a copy
    assert np.isfinite(table).all()


def test_owned_blocks_are_masked_in_place_and_rank_as_copies_do():
    table = np.random.default_rng(0).random((5, 6)).astype(np.float32)
    exclude = sp.csr_matrix(np.eye(5, 6, dtype=np.float32))
    handed = []

    def fresh(users):
        handed.append(table[users].copy())
        return handed[-1]

    copied = recommend_batched(lambda u: table[u], np.arange(5), 3, exclude=exclude, batch_size=2)
    owned = recommend_batched(fresh, np.arange(5), 3, exclude=exclude, batch_size=2, owned=True)
    np.testing.assert_array_equal(owned[0], copied[0])
    assert np.isneginf(handed[0][0, 0])  # masked where it was handed over: no copy made


def test_top_k_leaves_its_input_alone_and_takes_read_only_views():
    scores = np.array([[0.5, np.nan, 0.9, 0.1]], dtype=np.float32)
    before = scores.copy()
    assert top_k(scores, 2)[0].tolist() == [[2, 0]]
    np.testing.assert_array_equal(scores, before)  # NaN replaced in a copy, not here
    broadcast = np.broadcast_to(np.array([1.0, 3.0, 2.0]), (4, 3))  # stride 0, read-only
    assert top_k(broadcast, 2)[0].tolist() == [[1, 2]] * 4


class _NeverCalled(SameRow):
    def __call__(self, users):
        raise AssertionError("the block path was taken")


def _check_range(users):
    users = np.asarray(users, dtype=np.int64)
    if users.size and (users.min() < 0 or users.max() >= 40):
        raise DataError("user out of range")
    return users


@pytest.mark.parametrize(("k", "batch_size"), [(1, 7), (5, 1000), (12, 3)])
def test_same_row_lists_are_the_masked_block_lists(k, batch_size):
    """Popularity-like scores with many ties; some users have seen nearly every item,
    so their lists run out of unseen items and end in masked ones at -inf."""
    rng = np.random.default_rng(3)
    row = rng.integers(0, 6, 30).astype(np.float32)
    exclude = sp.random(40, 30, density=0.4, format="lil", random_state=4, dtype=np.float32)
    exclude[5, :] = 1.0
    exclude[6, :27] = 1.0
    exclude[7, np.argsort(-row, kind="stable")[:20]] = 1.0  # the 20 best items seen
    exclude = exclude.tocsr()
    users = np.array([7, 5, 0, 6, 39, 3, 3, 12] + list(range(13, 30)))
    same = _NeverCalled(row, _check_range)  # proves the lists come from the item order
    block = recommend_batched(lambda u: np.tile(row, (len(u), 1)), users, k, exclude=exclude, batch_size=batch_size)
    fast = recommend_batched(same, users, k, exclude=exclude, batch_size=batch_size)
    np.testing.assert_array_equal(fast[0], block[0])
    np.testing.assert_array_equal(fast[1], block[1])
    unmasked = recommend_batched(same, users, k)
    assert unmasked[0].tolist() == [np.argsort(-row, kind="stable")[:k].tolist()] * len(users)


def test_same_row_checks_the_users_and_scores_as_a_block():
    same = SameRow(np.array([1.0, 3.0, 2.0]), _check_range)
    assert same(np.array([0, 1])).tolist() == [[1.0, 3.0, 2.0]] * 2
    with pytest.raises(DataError, match="out of range"):
        recommend_batched(_NeverCalled(same.row, _check_range), np.array([0, 40]), 2)


@pytest.mark.parametrize("k", [1, 10, 30])
@pytest.mark.parametrize("screen_all", [False, True])
def test_top_k_screens_wide_rows_to_the_lists_of_a_full_sort(k, screen_all, monkeypatch):
    """Rows screened by chunk maxima (ties, NaN, -inf, a short tail chunk) give the lists
    and values of a stable sort of the whole row. At the default threshold k = 1 and 10
    are screened at 6,807 items and k = 30 is not; `screen_all` screens every k here."""
    if screen_all:
        monkeypatch.setattr(ranking, "SCREEN_CHUNKS_PER_PLACE", 1)
    screened = 6807 // ranking.SCREEN_WIDTH >= ranking.SCREEN_CHUNKS_PER_PLACE * (k + 1)
    assert screened == (screen_all or k < 30)
    rng = np.random.default_rng(k)
    scores = rng.standard_normal((64, 6807)).astype(np.float32)
    scores[32:] = rng.integers(0, 40, size=(32, 6807))  # ties at the cut: settled on the full row
    scores[rng.random(scores.shape) < 0.3] = -np.inf
    scores[3, :] = 1.0  # every column tied
    scores[4, 6800:] = 99.0  # the best values all past the last whole chunk
    scores[5, rng.choice(6807, 20, replace=False)] = np.nan
    scores[6, :] = -np.inf
    scores[6, [5, 6805]] = 2.0  # fewer finite values than places
    scores[7, ::64] = 50.0  # each chunk's maximum in its first column: every chunk tied
    ranked = np.where(np.isnan(scores), -np.inf, scores)  # NaN ranks last, as -inf does
    expected = np.argsort(-ranked, axis=1, kind="stable")[:, :k]
    items, values = top_k(scores, k)
    np.testing.assert_array_equal(items, expected)
    np.testing.assert_array_equal(values, np.take_along_axis(ranked, expected, axis=1))
