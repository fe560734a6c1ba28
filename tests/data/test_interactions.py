"""sorted_by: pandas' stable multi-column order, without a sort where the rows are in it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from movierec.data.interactions import sorted_by

COLUMNS = ["user", "timestamp", "item"]


@pytest.mark.parametrize("case", ["shuffled", "sorted", "tie-broken-wrong", "users-only", "text"])
def test_sorted_by_gives_pandas_stable_order(case):
    rng = np.random.default_rng(0)
    n = 5_000
    frame = pd.DataFrame({"user": rng.integers(0, 40, n), "item": rng.integers(0, 30, n),
                          "timestamp": rng.integers(0, 10, n), "row": np.arange(n)})
    if case != "shuffled":
        frame = frame.sort_values(COLUMNS, kind="stable").reset_index(drop=True)
    if case == "tie-broken-wrong":  # in order by user and time, not by item within a tie
        frame = frame.sort_values(["user", "timestamp"], kind="stable").iloc[::-1]
        frame = frame.sort_values(["user", "timestamp"], kind="stable")
    if case == "users-only":  # in user order only: time and item sorted within each user's run
        frame = frame.sample(frac=1.0, random_state=1).sort_values("user", kind="stable")
    if case == "text":
        frame["user"] = ("u" + frame["user"].astype(str)).astype(object)
    result = sorted_by(frame, COLUMNS)
    pd.testing.assert_frame_equal(result, frame.sort_values(COLUMNS, kind="stable"))
    if case == "sorted":
        assert result is frame  # nothing sorted, nothing copied
