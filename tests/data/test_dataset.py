"""Dataset.normalised: duplicates collapsed to the first in time, as pandas' sort and drop would."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from movierec.data.dataset import Dataset


@pytest.mark.parametrize("ids", ["integer", "text", "wide", "far", "int64 key"])
@pytest.mark.parametrize("presorted", [False, True], ids=["shuffled", "sorted"])
def test_normalised_keeps_each_pair_s_first_row_in_time(ids, presorted):
    rng = np.random.default_rng(0)
    n = 20_000
    frame = pd.DataFrame({"user": rng.integers(0, 300, n), "item": rng.integers(0, 200, n),
                          "timestamp": rng.integers(0, 40, n)})
    if presorted:
        frame = frame.sort_values(["user", "timestamp"], kind="stable").reset_index(drop=True)
    if ids == "text":
        frame["user"] = ("u" + frame["user"].astype(str)).astype(object)
    if ids == "wide":  # ranges whose product overflows one int64 key: pandas' own duplicated
        frame["user"] *= 2 ** 40
        frame["item"] *= 2 ** 30
    if ids == "far":  # ids beyond int32 whose ranges still fit one int32 key (the cast wraps, the key does not)
        frame["user"] += 2 ** 40
        frame["item"] -= 2 ** 35
    if ids == "int64 key":  # ranges whose product needs an int64 key
        frame["user"] *= 2 ** 20
    expected = (frame.sort_values(["user", "timestamp"], kind="stable")
                .drop_duplicates(["user", "item"], keep="first").reset_index(drop=True))
    result = Dataset("x", frame).normalised()
    pd.testing.assert_frame_equal(result.interactions, expected)
    assert result.notes == [f"collapsed {n - len(expected)} duplicate (user, item) rows"]


def test_a_few_text_ids_among_numbers_are_noted_and_text_ids_alone_are_not():
    """One "abc" among numeric user ids makes the column text (a '42' and a ' 42' would
    then be two users): said in a note; ids that are all text (or all numbers) are not."""
    mixed = pd.DataFrame({"user": pd.Series(["1", "2", "abc"], dtype=object), "item": [10, 10, 11],
                          "timestamp": [1, 2, 3]})
    notes = Dataset("x", mixed).normalised().notes
    assert notes == ["user ids are read as text: 1 of 3 are not whole numbers (e.g. 'abc'), "
                     "so every user id is matched as written"]
    text = mixed.assign(user=pd.Series(["a", "b", "c"], dtype=object))
    assert Dataset("x", text).normalised().notes == []
    digits = mixed.assign(user=pd.Series(["1", "2", "3"], dtype=object))  # text from Python: no false note
    assert Dataset("x", digits).normalised().notes == []
    huge = mixed.assign(user=pd.Series(["1", "99999999999999999999", "88888888888888888888"], dtype=object))
    normalised = Dataset("x", huge).normalised()
    assert normalised.interactions["user"].nunique() == 3
    (note,) = normalised.notes
    assert re.fullmatch(r"user ids are read as text: '(9|8){20}' does not fit a 64-bit integer, "
                        "so every user id is matched as written", note)
