"""Writing and reading split folders: the checksum survives the round trip.

A folder written by `write_split`::

    split/
      train.csv  valid.csv  test.csv     user,item,timestamp (sorted by user, time, item)
      checksum.sha256                    sha256 over the three parts in canonical order
"""

from __future__ import annotations

import pandas as pd
import pytest

from movierec.exceptions import DataError, SplitError
from movierec.split import SplitSpec, make_split, read_split, write_split
from movierec.split.split import Split


def _frame(users, items, times) -> pd.DataFrame:
    return pd.DataFrame({"user": users, "item": items, "timestamp": times})


@pytest.fixture
def interactions() -> pd.DataFrame:
    users = [u for u in range(1, 9) for _ in range(6)]
    items = [(u * 7 + j) % 20 for u in range(1, 9) for j in range(6)]
    return _frame(users, items, list(range(len(users))))


def test_round_trip_keeps_the_checksum(tmp_path, interactions):
    split = make_split(interactions, SplitSpec(seed=1, fraction=0.2))
    written = write_split(split, tmp_path / "split")
    assert written == split.checksum()
    assert (tmp_path / "split" / "checksum.sha256").read_text().strip() == written
    again = read_split(tmp_path / "split")
    assert again.checksum() == written
    for name in ("train", "valid", "test"):
        assert len(getattr(again, name)) == len(getattr(split, name))


def test_a_part_edited_after_the_split_was_written_is_refused(tmp_path, interactions):
    folder = tmp_path / "split"
    write_split(make_split(interactions, SplitSpec(seed=1, fraction=0.2)), folder)
    test = folder / "test.csv"
    test.write_text(test.read_text() + "1,19,99\n")
    with pytest.raises(DataError, match="no longer match the checksum.sha256"):
        read_split(folder)
    (folder / "checksum.sha256").unlink()  # the user's choice: the files as they are
    assert len(read_split(folder).test) == len(make_split(interactions, SplitSpec(seed=1, fraction=0.2)).test) + 1


def test_zero_padded_ids_read_back_as_written_when_one_part_holds_only_number_like_ones(tmp_path):
    """A data set whose items are text ("001", ..., "abc"): a part that happens to hold only
    the number-like ones must not turn "033" into 33, or the split's checksum fails."""
    split = Split(
        _frame(["u1", "u1", "u2"], ["001", "abc", "033"], [1, 2, 3]),
        _frame(["u2"], ["abc"], [4]),
        _frame(["u1", "u2"], ["033", "001"], [5, 6]),
    )
    written = write_split(split, tmp_path / "split")
    again = read_split(tmp_path / "split")
    assert again.checksum() == written
    assert again.test["item"].tolist() == ["033", "001"]


def test_round_trip_with_text_ids(tmp_path):
    split = Split(
        _frame(["ann", "ann", "bob"], ["m1", "m2", "m1"], [1, 2, 3]),
        _frame(["bob"], ["m3"], [4]),
        _frame(["ann"], ["m3"], [5]),
    )
    checksum = write_split(split, tmp_path)
    assert read_split(tmp_path).checksum() == checksum


def test_ids_get_one_type_across_parts(tmp_path):
    """train.csv holds text ids, test.csv only numeric-looking ones: both stay text."""
    (tmp_path / "train.csv").write_text("user,item,timestamp\n1,tt7,0\n2,8,0\n")
    (tmp_path / "valid.csv").write_text("user,item,timestamp\n")
    (tmp_path / "test.csv").write_text("user,item,timestamp\n1,8,5\n")
    split = read_split(tmp_path)
    assert split.test["item"].tolist() == ["8"] and set(split.train["item"]) == {"tt7", "8"}
    assert split.test["user"].tolist() == [1]  # users are numeric everywhere: int64
    with pytest.raises(SplitError, match="item '8'"):
        (tmp_path / "test.csv").write_text("user,item,timestamp\n2,8,5\n")
        read_split(tmp_path)


def test_round_trip_with_an_empty_part(tmp_path):
    split = Split(_frame([1, 2], [1, 1], [0, 0]), _frame([], [], []).astype("int64"), _frame([1], [2], [3]))
    checksum = write_split(split, tmp_path)
    again = read_split(tmp_path)
    assert len(again.valid) == 0
    assert again.checksum() == checksum


def test_checksum_sees_a_single_moved_row(interactions):
    split = make_split(interactions, SplitSpec(seed=0))
    moved = Split(split.train.iloc[1:], pd.concat([split.valid, split.train.iloc[:1]]), split.test)
    assert moved.checksum() != split.checksum()


def test_missing_part_names_the_file(tmp_path, interactions):
    write_split(make_split(interactions, SplitSpec(seed=0)), tmp_path)
    (tmp_path / "valid.csv").unlink()
    with pytest.raises(DataError, match="valid.csv"):
        read_split(tmp_path)


def test_a_leaking_split_folder_is_refused(tmp_path):
    (tmp_path / "train.csv").write_text("user,item,timestamp\n1,1,0\n1,2,0\n")
    (tmp_path / "valid.csv").write_text("user,item,timestamp\n")
    (tmp_path / "test.csv").write_text("user,item,timestamp\n1,2,5\n")
    with pytest.raises(SplitError, match=r"both train and test \(e.g. user 1, item 2\)"):
        read_split(tmp_path)


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["ml100k-mixed-s0", "ml100k-random-s0"])
def test_fixed_shared_splits_read_and_round_trip(splits_dir, tmp_path, name):
    split = read_split(splits_dir / name)
    assert split.summary()["train"] + split.summary()["valid"] + split.summary()["test"] == 100_000
    checksum = write_split(split, tmp_path)
    assert read_split(tmp_path).checksum() == checksum


def test_the_checksum_reads_values_not_their_storage(interactions):
    split = make_split(interactions, SplitSpec(seed=1, fraction=0.2))
    narrow = Split(**{name: frame.astype({"user": "int32", "item": "int16"}) for name, frame in split.parts().items()})
    assert narrow.checksum() == split.checksum()  # the same ids in narrower integers
    texts = Split(**{name: frame.astype({"item": str}) for name, frame in split.parts().items()})
    assert texts.checksum() != split.checksum()  # text ids are other ids
    later = split.test.assign(timestamp=split.test["timestamp"] + 1)
    assert Split(split.train, split.valid, later).checksum() != split.checksum()
    swapped = Split(split.train, split.test, split.valid)  # the same rows, in other parts
    assert swapped.checksum() != split.checksum()


def test_a_part_without_times_beside_timed_ones_is_refused(tmp_path):
    (tmp_path / "train.csv").write_text("user,item,timestamp\n1,10,5\n1,11,6\n")
    (tmp_path / "valid.csv").write_text("user,item\n1,12\n")
    (tmp_path / "test.csv").write_text("user,item,timestamp\n1,13,8\n")
    with pytest.raises(DataError, match=r"valid.csv, line 1: no time column, while train.csv, test.csv have one"):
        read_split(tmp_path)
    (tmp_path / "train.csv").write_text("user,item\n1,10\n1,11\n")
    (tmp_path / "test.csv").write_text("user,item\n1,13\n")
    assert read_split(tmp_path).valid["timestamp"].tolist() == [0]  # no part timed: all alike, as before


def test_an_empty_part_without_times_beside_timed_ones_is_read(tmp_path):
    (tmp_path / "train.csv").write_text("user,item,timestamp\n1,10,5\n1,11,6\n")
    (tmp_path / "valid.csv").write_text("user,item\n")
    (tmp_path / "test.csv").write_text("user,item,timestamp\n1,13,8\n")
    assert read_split(tmp_path).valid.empty
