"""Beyond-accuracy metrics on lists small enough to work out by hand."""

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.evaluate import beyond
from movierec.exceptions import ConfigError

# 4 users x 4 items: item 0 seen by all, item 1 by two, item 2 by one, item 3 by none
HISTORY = sp.csr_matrix(np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]], dtype=np.float32))
POP = beyond.item_popularity(HISTORY)


def test_popularity_counts_users_per_item():
    assert POP.tolist() == [4, 2, 1, 0]


def test_novelty_is_the_mean_self_information():
    items = np.array([[0, 1], [2, -1], [3, -1]])
    got = beyond.novelty(items, POP, n_users=4)
    # -log2(4/4) = 0, -log2(2/4) = 1; -log2(1/4) = 2; unseen: -log2(0.5/4) = 3
    np.testing.assert_allclose(got, [0.5, 2.0, 3.0])


def test_popularity_lift_compares_the_list_with_the_user_s_history():
    items = np.array([[0, 1], [0, 0], [2, 3]])
    history = HISTORY[[0, 1, 2]]
    got = beyond.popularity_lift(items, POP, history)
    # user 0 watched items 0, 1, 2 (mean 7/3), list mean 3; user 1 (mean 3), list 4; user 2 (4), list 0.5
    np.testing.assert_allclose(got, [3 / (7 / 3), 4 / 3, 0.5 / 4])
    assert np.isnan(beyond.popularity_lift(items[:1], POP, sp.csr_matrix((1, 4))))[0]


def test_diversity_is_zero_for_alike_items_and_one_for_disjoint_genres():
    genres = sp.csr_matrix(np.array([[1, 0], [1, 0], [0, 1], [0, 0]], dtype=np.float32))
    items = np.array([[0, 1, -1], [0, 2, -1], [0, 1, 2], [0, 3, -1]])
    got = beyond.intra_list_diversity(items, genres)
    np.testing.assert_allclose(got[:3], [0.0, 1.0, 2 / 3])
    assert np.isnan(got[3])  # item 3 has no genre: one usable item, no pair


@pytest.mark.parametrize("items, expected", [
    (np.array([[0, 1], [2, 3]]), 0.0),  # every item once
    (np.array([[0, 0], [0, 0]]), 0.75),  # one of four items takes it all: (n - 1) / n
])
def test_gini_of_exposure(items, expected):
    assert beyond.exposure_gini(items, 4) == pytest.approx(expected)


def test_against_plain_loops_on_random_lists():
    rng = np.random.default_rng(0)
    n_items, history = 30, sp.random(40, 30, density=0.2, random_state=1, format="csr")
    history.data[:] = 1
    genres = sp.random(n_items, 6, density=0.3, random_state=2, format="csr")
    genres.data[:] = 1
    items = rng.integers(-1, n_items, size=(40, 8))
    pop = beyond.item_popularity(history)
    dense_genres = genres.toarray()
    for u, row in enumerate(items):
        real = [i for i in row if i >= 0]
        novelty = np.mean([-np.log2(max(pop[i], 0.5) / 40) for i in real]) if real else np.nan
        np.testing.assert_allclose(beyond.novelty(items, pop, 40)[u], novelty)
        with_genre = [i for i in real if dense_genres[i].any()]
        distances = [1 - dense_genres[a] @ dense_genres[b] / np.linalg.norm(dense_genres[a]) / np.linalg.norm(dense_genres[b])
                     for x, a in enumerate(with_genre) for y, b in enumerate(with_genre) if x != y]
        np.testing.assert_allclose(beyond.intra_list_diversity(items, genres)[u],
                                   np.mean(distances) if distances else np.nan)
    counts = np.bincount(items[items >= 0], minlength=n_items)
    mean_abs_difference = np.abs(counts[:, None] - counts[None, :]).sum() / (2 * n_items * counts.sum())
    assert beyond.exposure_gini(items, n_items) == pytest.approx(mean_abs_difference)


def test_a_list_outside_the_catalogue_is_named():
    with pytest.raises(ConfigError, match="item index 7 is outside a catalogue of 4 items"):
        beyond.exposure_gini(np.array([[0, 7]]), 4)
