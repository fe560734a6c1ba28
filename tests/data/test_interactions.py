"""sorted_by (pandas' stable multi-column order, without a sort where the rows are in it) and timestamps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from movierec.data.idmap import IdMap
from movierec.data.interactions import sorted_by, timestamps_csr, timestamps_from_indices, to_csr

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


def test_timestamps_keep_each_pairs_earliest_time_on_exactly_the_matrix_pattern():
    """Random (user, item, time) rows with repeated pairs against a pandas reference:
    the earliest time of each pair, on the pattern of the binary matrix."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"user": rng.integers(0, 30, 400), "item": rng.integers(0, 20, 400),
                          "timestamp": rng.integers(0, 50, 400)})
    idmap = IdMap.from_ids(frame["user"], frame["item"])
    times, X = timestamps_csr(frame, idmap), to_csr(frame, idmap)
    assert (times.indptr == X.indptr).all() and (times.indices == X.indices).all()
    earliest = frame.groupby(["user", "item"])["timestamp"].min()
    rows, cols = idmap.user_index(earliest.index.get_level_values(0)), idmap.item_index(earliest.index.get_level_values(1))
    np.testing.assert_array_equal(np.asarray(times[rows, cols]).ravel(), earliest.to_numpy(np.float64))
    unique = frame.drop_duplicates(["user", "item"])  # no repeats: the one-sort path
    rows, cols = idmap.user_index(unique["user"]), idmap.item_index(unique["item"])
    single = timestamps_from_indices(rows, cols, unique["timestamp"].to_numpy(), times.shape)
    assert (single.indptr == X.indptr).all() and (single.indices == X.indices).all()
    np.testing.assert_array_equal(np.asarray(single[rows, cols]).ravel(), unique["timestamp"].to_numpy(np.float64))
