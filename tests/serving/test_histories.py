"""Histories as catalogue rows: a table of many users' rows, one history of raw ids."""

from __future__ import annotations

import numpy as np
import pandas as pd

from movierec.serving.histories import history_row, history_rows

ITEMS = pd.Index([10, 20, 30, 40])


def table(rows):
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"])


def test_a_table_becomes_one_row_per_user_with_its_times_and_unknown_items_left_out():
    rows = history_rows(ITEMS, table([("b", 30, 5), ("a", 20, 7), ("a", 99, 8), ("a", 10, 9), ("c", 98, 1)]))
    assert rows.users.tolist() == ["b", "a", "c"]  # as first named; c only unknown items: an empty row, still a user
    assert rows.history.toarray().tolist() == [[0, 0, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0]]
    assert rows.timestamps.toarray().tolist() == [[0, 0, 5, 0], [9, 7, 0, 0], [0, 0, 0, 0]]
    assert rows.unknown_items.tolist() == [99, 98] and rows.unknown_rows == 2


def test_a_pair_listed_twice_counts_once_at_its_first_time():
    rows = history_rows(ITEMS, table([(1, 20, 9), (1, 20, 3), (1, 40, 5)]))
    assert rows.history.toarray().tolist() == [[0, 1, 0, 1]]
    assert rows.timestamps.toarray().tolist() == [[0, 3, 0, 5]]


def test_a_table_without_times_orders_each_user_s_rows_as_they_come():
    rows = history_rows(ITEMS, table([(1, 40, 0), (2, 10, 0), (1, 10, 0), (1, 30, 0)]))
    assert rows.timestamps.toarray().tolist() == [[2, 0, 3, 1], [1, 0, 0, 0]]


def test_ids_match_across_types_as_one_history_s_do():
    text_items = pd.Index(["10", "20", "tt3"])
    rows = history_rows(text_items, table([(1, 20, 1), (1, 10, 2)]))  # integer ids of the table, text catalogue
    assert rows.history.toarray().tolist() == [[1, 1, 0]]
    rows = history_rows(ITEMS, table([(1, "tt3", 1), (1, "x", 2)]))  # text ids find no integer item
    assert rows.history.nnz == 0 and rows.unknown_items.tolist() == ["tt3", "x"]
    rows = history_rows(ITEMS, table([(1, "tt3", 1), (1, " 30", 2), (1, 20, 3)]))  # text of digits finds one
    assert rows.history.toarray().tolist() == [[0, 1, 1, 0]] and rows.unknown_items.tolist() == ["tt3"]
    one, times, unknown = history_row(ITEMS, ["30", 10, "zz", 30])
    assert one.toarray().tolist() == [[1, 0, 1, 0]] and times.toarray().tolist() == [[2, 0, 1, 0]]
    assert unknown == ["zz"]
    np.testing.assert_array_equal(one.indices, np.sort(one.indices))


def test_a_table_without_times_or_with_whole_float_ids_reads_and_missing_values_are_errors():
    import pytest

    from movierec.exceptions import DataError

    rows = history_rows(ITEMS, pd.DataFrame({"user": [1, 1], "item": [40.0, 10.0]}))  # no times, float ids
    assert rows.history.toarray().tolist() == [[1, 0, 0, 1]] and rows.timestamps.toarray().tolist() == [[2, 0, 0, 1]]
    with pytest.raises(DataError, match="histories: the user id of the table's row 1 \\(counting from 0\\) is missing"):
        history_rows(ITEMS, pd.DataFrame({"user": [1, None], "item": [10, 20]}))
    with pytest.raises(DataError, match="histories: the item id of the table's row 0"):
        history_rows(ITEMS, pd.DataFrame({"user": [1, 1], "item": [None, 20]}))
    with pytest.raises(DataError, match="histories: the timestamp of the table's row 0"):
        history_rows(ITEMS, pd.DataFrame({"user": [1], "item": [10], "timestamp": [float("nan")]}))
    with pytest.raises(DataError, match="need a 'item' column"):
        history_rows(ITEMS, pd.DataFrame({"user": [1], "movie": [10]}))


def test_a_sequence_model_reads_a_table_s_order_as_one_history_s():
    """On the ring of tests/models/torch/test_sequences.py, a table's rows out of order
    (its times give the order) and a table without times (its row order) give each user
    the scores of the same history given alone, oldest first, and the ring's next item."""
    from movierec.models.torch import SASRec
    from tests.models.torch.test_sequences import N_ITEMS, T, X

    model = SASRec(dim=16, epochs=40, batch_size=8, device="cpu").fit(X, timestamps=T)
    items = pd.Index(np.arange(N_ITEMS))
    walk = [5, 6, 7, 8, 9]  # next: 10
    timed = table([("t", item, 100 + place) for place, item in enumerate(walk)][::-1])  # rows newest first
    untimed = pd.DataFrame({"user": ["u"] * len(walk), "item": walk})
    alone = model.score_history(*history_row(items, walk)[:2])
    for frame in (timed, untimed):
        rows = history_rows(items, frame)
        scores = model.score_history(rows.history, rows.timestamps)
        np.testing.assert_allclose(scores, alone, rtol=1e-5, atol=1e-6)
        assert np.argmax(np.where(rows.history.toarray() > 0, -np.inf, scores)) == 10


def test_times_keep_their_fractions_and_dates_order_as_they_fall():
    """Times only order a user's rows: 1.7, 1.2, 1.5 are not all 1 (which would fall back
    to the table's order), dates order as dates, and a missing date is an error."""
    import pytest

    from movierec.exceptions import DataError

    rows = history_rows(ITEMS, table([(1, 10, 1.7), (1, 20, 1.2), (1, 30, 1.5)]))
    assert rows.timestamps.toarray().tolist() == [[1.7, 1.2, 1.5, 0]]
    dates = pd.to_datetime(["2020-03-01", "2020-01-01", "2020-02-01"], utc=True)
    rows = history_rows(ITEMS, pd.DataFrame({"user": 1, "item": [10, 20, 30], "timestamp": dates}))
    assert np.argsort(rows.timestamps.toarray()[0, :3]).tolist() == [1, 2, 0]
    for missing in (pd.Series(pd.to_datetime(["2020-01-01", None])), pd.Series([5, None], dtype="Int64")):
        with pytest.raises(DataError, match="the timestamp of the table's row 1"):
            history_rows(ITEMS, pd.DataFrame({"user": 1, "item": [10, 20], "timestamp": missing}))
