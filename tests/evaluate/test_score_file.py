"""Scoring a foreign recommendation file.

Split (raw ids)::

    train: a-x, a-y, b-x      valid: (none)      test: a-z, a-w, b-y, c-x (c has no train row)

Lists file: user a gets [z, q(unknown), w], user b gets [x, y]; c gets nothing.
"""

import pandas as pd
import pytest

from movierec.evaluate.score_file import score_file
from movierec.exceptions import ConfigError, DataError
from movierec.split import EncodedSplit, Split


def frame(rows):
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"])


@pytest.fixture()
def prepared():
    split = Split(
        train=frame([("a", "x", 1), ("a", "y", 2), ("b", "x", 1), ("c", "w", 1)]),
        valid=frame([]).astype({"timestamp": "int64"}),
        test=frame([("a", "z", 3), ("a", "w", 4), ("b", "y", 2), ("c", "x", 2)]),
    )
    return EncodedSplit(split)


def test_ranks_unknown_items_and_missing_users(prepared, tmp_path):
    path = tmp_path / "lists.csv"
    path.write_text("user,item,rank\na,w,3\na,z,1\na,q,2\nb,x,1\nb,y,2\n")
    evaluation, notes = score_file(path, prepared.idmap, prepared.test, k=2)
    # a: top2 = [z, q] -> 1 hit / min(2, 2) = 0.5; b: [x, y] -> 1/1; c: none -> 0
    assert evaluation["recall@2"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert any("not in the split" in n for n in notes)
    assert any("no list" in n for n in notes)


def test_lists_shorter_than_k_are_noted(prepared, tmp_path):
    path = tmp_path / "lists.csv"
    path.write_text("user,item,rank\na,w,3\na,z,1\na,q,2\nb,x,1\nb,y,2\n")
    _, notes = score_file(path, prepared.idmap, prepared.test, k=3)
    assert "1 test users' lists are shorter than k = 3 (the longest holds 3): the missing places count as misses" \
        in notes  # b's two items
    _, notes = score_file(path, prepared.idmap, prepared.test, k=2)
    assert not any("shorter than k" in note for note in notes)


def test_lists_longer_than_k_and_tied_ranks_are_noted(prepared, tmp_path):
    path = tmp_path / "lists.csv"
    path.write_text("user,item,rank\na,w,3\na,z,1\na,q,1\nb,x,1\nb,y,2\n")
    _, notes = score_file(path, prepared.idmap, prepared.test, k=2)
    assert "1 users' lists are longer than k = 2: only their first 2 places are scored" in notes  # a's w
    assert "1 rows share a rank with an earlier row of their user (file order breaks the tie)" in notes
    _, notes = score_file(path, prepared.idmap, prepared.test, k=3)
    assert not any("longer than k" in note for note in notes)


def test_file_order_is_the_rank_without_a_rank_column(prepared, tmp_path):
    path = tmp_path / "lists.csv"
    path.write_text("user,item\na,w,\na,z\n".replace(",\n", "\n"))
    evaluation, _ = score_file(path, prepared.idmap, prepared.test, k=1)
    assert evaluation["recall@1"] == pytest.approx(1.0 / 3)


def test_bad_rank_names_the_line(prepared, tmp_path):
    path = tmp_path / "lists.csv"
    path.write_text("user,item,rank\na,w,1\na,z,two\n")
    with pytest.raises(DataError, match="line 3"):
        score_file(path, prepared.idmap, prepared.test, k=2)


def test_an_item_listed_twice_counts_once(prepared, tmp_path):
    """a lists z twice: one hit of two hidden items, not two (recall 0.5, not 1.0)."""
    path = tmp_path / "lists.csv"
    path.write_text("user,item,rank\na,z,1\na,z,2\na,y,3\n")
    evaluation, notes = score_file(path, prepared.idmap, prepared.test, k=2)
    assert evaluation["recall@2"] == pytest.approx(0.5 / 3)
    assert any("repeated" in n for n in notes)


def test_bad_rank_after_a_blank_line_names_the_right_line(prepared, tmp_path):
    path = tmp_path / "lists.csv"
    path.write_text("user,item,rank\na,w,1\n\na,z,two\n")
    with pytest.raises(DataError, match="line 4"):
        score_file(path, prepared.idmap, prepared.test, k=2)


def test_ranks_that_skip_or_start_at_zero_are_noted_and_taken_in_order(prepared, tmp_path):
    path = tmp_path / "lists.csv"
    path.write_text("user,item,rank\na,q,0\na,z,1\nb,x,1\nb,y,5\n")  # b's rows 2-4 removed after ranking
    evaluation, notes = score_file(path, prepared.idmap, prepared.test, k=2)
    assert "2 users' ranks do not run 1, 2, 3, ...: their places are taken in rank order" in notes
    assert evaluation["recall@2"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)  # a: [q, z]; b: [x, y]
    for ties in ("1,1,3", "1,1,2"):  # a tie counted either way is in order
        first, second, third = ties.split(",")
        path.write_text(f"user,item,rank\na,z,{first}\na,q,{second}\na,w,{third}\nb,x,1\nb,y,2\n")
        assert not any("do not run" in note for note in score_file(path, prepared.idmap, prepared.test, k=2)[1])


def test_a_list_longer_than_the_catalogue_is_refused(prepared, tmp_path):
    path = tmp_path / "lists.csv"
    path.write_text("user,item\na,z\n")
    with pytest.raises(ConfigError, match="k \\(--k\\) 5 exceeds the split's 4 items"):
        score_file(path, prepared.idmap, prepared.test, k=5)


@pytest.mark.parametrize("k", [0, -2, 2.5])
def test_a_list_length_below_one_is_refused(prepared, tmp_path, k):
    path = tmp_path / "lists.csv"
    path.write_text("user,item\na,z\n")
    with pytest.raises(ConfigError, match="k \\(--k\\) must be a whole number >= 1"):
        score_file(path, prepared.idmap, prepared.test, k=k)


def two_test_users(*more_train: tuple[int, int, int]) -> EncodedSplit:
    """Users 1 and 2 with item 10 in train and one test item each (20, 30)."""
    return EncodedSplit(Split(train=frame([(1, 10, 1), (2, 10, 1), *more_train]),
                              valid=frame([]).astype({"timestamp": "int64"}), test=frame([(1, 20, 2), (2, 30, 2)])))


def test_one_text_id_leaves_the_numeric_ids_of_the_file_found(tmp_path):
    """Integer ids in the split; one id in the file that is not a number makes the column
    text, and the other ids must still find their users and items."""
    data = two_test_users()
    path = tmp_path / "lists.csv"
    path.write_text("user,item\n1,20\n2,30\nx9,20\n2,y7\n")
    evaluation, notes = score_file(path, data.idmap, data.test, k=2)
    assert evaluation["recall@2"] == pytest.approx(1.0)
    assert any("ignored 1 rows of users" in n for n in notes)
    assert any("1 rows recommend items not in the split (1 distinct items" in n for n in notes)


def test_a_score_column_orders_lists_without_ranks_and_headers_take_any_case(tmp_path):
    """movierec's own lists (and many libraries') carry a score: with no rank, it orders
    each list, highest first; ``User,Item`` and ids written as 1.0 are read as the data are."""
    data = two_test_users()
    path = tmp_path / "lists.csv"
    path.write_text("User,Item,Score\n1,30,0.1\n1,20,0.9\n2.0,20,0.5\n2,30,0.5\n")
    evaluation, notes = score_file(path, data.idmap, data.test, k=1)
    assert evaluation["recall@1"] == pytest.approx(0.5)  # user 1: 20 first (0.9); user 2: the tie keeps 20 first
    assert any("ordered by score, highest first" in n for n in notes)
    assert any("1 rows share a score with an earlier row" in n for n in notes)
    path.write_text("user,item,score\n1,20,high\n")
    with pytest.raises(DataError, match="line 2: score is not a number"):
        score_file(path, data.idmap, data.test, k=1)


def test_notes_count_only_rows_that_would_be_scored_and_a_header_twice_is_refused(tmp_path):
    data = two_test_users()
    path = tmp_path / "lists.csv"
    path.write_text("user,item\n1,20\n1,30\n1,zz\nx9,zz\n")  # zz: past k for user 1, and a stranger's
    _, notes = score_file(path, data.idmap, data.test, k=2)
    assert not any("not in the split (" in note for note in notes)  # no scored row recommends an unknown item
    path.write_text("User,user,item\n1,1,20\n")
    with pytest.raises(DataError, match="line 1: column 'user' appears twice"):
        score_file(path, data.idmap, data.test, k=2)


def test_rows_of_users_without_test_items_are_counted_in_a_note(tmp_path):
    data = two_test_users((3, 10, 1))  # user 3: in the split (train), with no test items
    path = tmp_path / "lists.csv"
    path.write_text("user,item\n1,20\n2,30\n3,20\n")
    evaluation, notes = score_file(path, data.idmap, data.test, k=1)
    assert evaluation["recall@1"] == pytest.approx(1.0) and "ignored 1 rows of 1 users with no test items" in notes


def test_large_integer_ids_match_exactly_and_text_ids_as_written(tmp_path):
    """No float on the way: 2**53 + 1 is not 2**53; a split with text ids ("033") finds
    them in a file whose column holds only number-like ids."""
    big = 2**53
    split = Split(train=frame([(1, big, 1), (1, big + 1, 1), (2, 5, 1)]),
                  valid=frame([]).astype("int64"), test=frame([(1, 5, 2), (2, big + 1, 2)]))
    data = EncodedSplit(split)
    path = tmp_path / "lists.csv"
    path.write_text(f"user,item\n1,5\n2,{big}\n2,x\n")
    evaluation, _ = score_file(path, data.idmap, data.test, k=1)
    assert evaluation["recall@1"] == pytest.approx(0.5)  # user 2's first item is 2**53, not 2**53 + 1
    text = EncodedSplit(Split(train=frame([("a", "001", 1), ("b", "abc", 1)]), valid=frame([]).astype({"timestamp": "int64"}),
                              test=frame([("a", "033", 2), ("b", "001", 2)])))
    path.write_text("user,item\na,033\nb,001\n")
    evaluation, _ = score_file(path, text.idmap, text.test, k=1)
    assert evaluation["recall@1"] == pytest.approx(1.0)
