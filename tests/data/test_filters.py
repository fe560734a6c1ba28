"""Which interactions a run learns from: the rating threshold (in every reader with
ratings) and the k-core.

k-core fixture (users a-d, items 1-4)::

    a: 1 2 3      b: 1 2      c: 1 4      d: 3

With at least 2 items per user and 2 users per item: d goes (one item), and item 4 (c's
alone); then item 3 has only a, and c only item 1: both go; a and b keep items 1 and 2
(two rounds of dropping).
"""

from __future__ import annotations

import pandas as pd
import pytest

from movierec.data.dataset import Dataset
from movierec.data.filters import DataFilter, k_core
from movierec.data.readers import read_dataset
from movierec.exceptions import ConfigError, DataError
from tests.data.test_read_grouplens import write_ml10m, write_ml_csv
from tests.data.test_read_other_layouts import write_competition, write_recbole


def dataset(rows) -> Dataset:
    frame = pd.DataFrame(rows, columns=["user", "item"]).assign(timestamp=0)
    return Dataset("toy", frame.astype({"timestamp": "int64"}))


TOY = [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2), ("c", 1), ("c", 4), ("d", 3)]


def test_the_core_drops_again_until_both_bars_hold():
    core = k_core(dataset(TOY), 2, 2)
    assert sorted(zip(core.interactions["user"], core.interactions["item"])) == [("a", 1), ("a", 2), ("b", 1), ("b", 2)]
    assert core.notes == ["k-core (users with at least 2 items and items with at least 2 users; 2 rounds of dropping): "
                          "dropped 4 of 8 interactions, 2 users and 2 items"]


def test_bars_of_one_keep_everything_and_a_bar_nobody_meets_is_an_error():
    assert k_core(dataset(TOY), 1, 0).interactions.equals(dataset(TOY).interactions)
    assert k_core(dataset(TOY), 1, 2).notes[0].startswith("k-core (items with at least 2 users; 1 round")
    with pytest.raises(ConfigError, match="no interaction is left in the core of users with at least 5 items; lower"):
        k_core(dataset(TOY), 5, 1)


@pytest.mark.parametrize("values, message", [
    ({"min_rating": float("nan")}, "min_rating .* finite number"),
    ({"min_rating": True}, "min_rating .* finite number"),
    ({"min_user_items": -1}, "min_user_items \\(--min-user-items\\) must be a whole number >= 0"),
    ({"min_item_users": 2.5}, "min_item_users .* whole number"),
])
def test_bad_filter_values_are_errors_naming_the_option(values, message):
    with pytest.raises(ConfigError, match=message):
        DataFilter(**values)


def test_a_rating_threshold_keeps_the_ratings_at_or_above_it_in_every_layout_with_ratings(tmp_path):
    csv_layout = read_dataset(write_ml_csv(tmp_path / "ml-25m"), min_rating=4.0)  # 5.0, 3.5, 4.0, 4.0, 1.0
    assert sorted(zip(csv_layout.interactions["user"], csv_layout.interactions["item"])) == [(1, 296), (2, 11), (2, 296)]
    assert "kept the 3 of 5 ratings at or above 4 (min_rating) as positives; 1 user and 2 items have none left" \
        in csv_layout.notes  # user 3 rated only 1.0; items 306 and 131 only below 4
    dat = read_dataset(write_ml10m(tmp_path / "ml-10M100K"), min_rating=4.5)  # 5, 4.5, 0.5, 3.5, 5
    assert sorted(dat.interactions["item"].tolist()) == [122, 185, 316]
    recbole = read_dataset(write_recbole(tmp_path / "tiny"), min_rating=4)  # 4, 2, 5, 1
    assert sorted(zip(recbole.interactions["user"], recbole.interactions["item"])) == [(1, 10), (2, 10)]
    plain = tmp_path / "plain.csv"
    plain.write_text("user,item,Rating\nu,1,2\nu,2,5\nv,1,4.5\n")
    assert read_dataset(plain, min_rating=4).interactions["item"].tolist() == [2, 1]


def test_a_threshold_without_ratings_or_with_a_rating_that_is_no_number_is_an_error(tmp_path):
    with pytest.raises(DataError, match="train_ratings.csv: no rating column, so min_rating"):
        read_dataset(write_competition(tmp_path / "comp"), min_rating=4)
    plain = tmp_path / "plain.csv"
    plain.write_text("user,item\nu,1\n")
    with pytest.raises(DataError, match="plain.csv: no rating column"):
        read_dataset(plain, min_rating=4)
    plain.write_text("user,item,rating\nu,1,4\nu,2,\nu,3,good\n")
    with pytest.raises(DataError, match="plain.csv, line 3: column 'rating' expects a rating \\(a number\\), found ''"):
        read_dataset(plain, min_rating=4)
    assert len(read_dataset(plain).interactions) == 3  # without a threshold the ratings are not read


@pytest.mark.realdata
def test_ml100k_keeps_its_liked_ratings(data_dir):
    liked = read_dataset(data_dir / "ml-100k", min_rating=4)
    assert len(liked.interactions) == 55_375  # ratings 4 and 5 of the 100,000


def test_a_row_below_the_threshold_is_checked_like_any_other(tmp_path):
    """Whether a file reads does not depend on the threshold: a bad time on a dropped row is still an error."""
    plain = tmp_path / "plain.csv"
    plain.write_text("user,item,timestamp,rating\nu,1,10,5\nu,2,abc,1\n")
    for threshold in (None, 4):
        with pytest.raises(DataError, match="plain.csv, line 3: column 'timestamp'"):
            read_dataset(plain, min_rating=threshold)


def test_a_threshold_above_every_rating_is_an_error_naming_it(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("user,item,rating\nu,1,2\nu,2,3.5\n")
    with pytest.raises(DataError, match=r"plain.csv: no rating is at or above min_rating \(--min-rating\) 6; the "
                                        r"ratings run from 2 to 3.5"):
        read_dataset(plain, min_rating=6)
