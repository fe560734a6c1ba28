"""Histories as rows of a run's catalogue: one history of raw ids (a new user asking),
or a table of many users' (user, item, timestamp) rows (a batch of new users).

Both give the item columns the run's models score, and timestamps that order each row
for the models that read order; ids the catalogue does not hold are left out and
reported, never matched to another item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.exceptions import DataError


@dataclass(frozen=True)
class HistoryRecommendations:
    """Recommendations for a history: the ranked items, and the history's ids the run did not know."""

    items: pd.DataFrame  # rank, item, score, and the catalogue's columns (title, year, ...)
    unknown_items: list


@dataclass(frozen=True)
class BatchRecommendations:
    """Lists for a table of new users' histories, and what could not be used."""

    lists: pd.DataFrame  # user, rank, item, score (raw ids), up to k rows per user
    unknown_items: list  # the table's item ids the run does not know (their rows left out)
    unknown_rows: int
    unscored_users: list  # users the model scores every item alike for: no list


@dataclass(frozen=True)
class HistoryRows:
    """Many users' histories over a catalogue.

    users : the raw user ids, one per row of `history`, in the order the table first names them.
    history : users x catalogue items, 1 where the user watched the item.
    timestamps : the same non-zeros, each the watch's time (a table without times:
        its place in the user's rows, 1, 2, ...).
    unknown_items : raw ids of the table's items the catalogue does not hold.
    unknown_rows : how many rows named them (left out).
    """

    users: pd.Index
    history: sp.csr_matrix
    timestamps: sp.csr_matrix
    unknown_items: pd.Index
    unknown_rows: int


def id_like(value, index: pd.Index):
    """`value` as the index's id type: "42" matches the integer id 42, 42 the text id "42".

    Only an integer, or text of digits, is an integer id: 42.7, True or "4_2" (which
    Python's int() would take) stay as given and match nothing.
    """
    if pd.api.types.is_integer_dtype(index.dtype):
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+\s*", value):
            return int(value)
        return value
    return str(value)


def as_id_list(ids) -> list:
    """One id (a number or a string, not spelt out letter by letter) or several (any
    collection or iterator), as a list."""
    if ids is None or isinstance(ids, (str, bytes, int, float, np.generic)):
        return [ids]
    if isinstance(ids, np.ndarray) and ids.ndim == 0:
        return [ids.item()]
    return list(ids)


def history_row(items: pd.Index, item_ids) -> tuple[sp.csr_matrix, sp.csr_matrix, list]:
    """A history of raw ids (oldest first) as one row over `items`, its order as the
    timestamps 1, 2, ... (an item listed twice counts once, at its first place), and the
    ids `items` does not hold."""
    raw = as_id_list(item_ids)
    positions = items.get_indexer([id_like(item, items) for item in raw])
    unknown = [item for item, position in zip(raw, positions) if position < 0]
    known = positions[positions >= 0]
    _, first = np.unique(known, return_index=True)
    order = known[np.sort(first)]
    row = np.zeros(len(order), dtype=np.int64)
    shape = (1, len(items))
    history = sp.csr_matrix((np.ones(len(order), dtype=np.float32), (row, order)), shape=shape)
    times = sp.csr_matrix((np.arange(1, len(order) + 1, dtype=np.float64), (row, order)), shape=shape)
    history.sort_indices()
    times.sort_indices()
    return history, times, unknown


def _times_of(column: pd.Series) -> np.ndarray:
    """A table's times as float64, which only order each user's rows: numbers as they are
    (fractions of a second kept), dates as their nanoseconds; a missing one is an error."""
    if pd.api.types.is_datetime64_any_dtype(column):
        missing = column.isna().to_numpy()
        times = column.to_numpy("datetime64[ns]").astype(np.int64).astype(np.float64)
    else:
        times = pd.to_numeric(column, errors="coerce").to_numpy(np.float64, na_value=np.nan)
        missing = ~np.isfinite(times)
    if missing.any():
        raise DataError(f"histories: the timestamp of the table's row {int(np.flatnonzero(missing)[0])} "
                        "(counting from 0) is missing or not a number")
    return times


def positions_in(items: pd.Index, ids: pd.Series) -> np.ndarray:
    """Each raw id's position in `items` (-1: not there), matched as `id_like` matches one:
    text of digits finds an integer id, so a table whose ids `read_dataset` kept as text
    (one of them not a whole number, say an unknown "tt01") still finds its integer ones.
    Each distinct id is looked at once."""
    codes, unique = pd.factorize(ids)
    if pd.api.types.is_integer_dtype(items.dtype):
        if pd.api.types.is_integer_dtype(unique.dtype):
            found = items.get_indexer(unique)
        elif pd.api.types.is_float_dtype(unique.dtype):  # 50.0 (a column that once held a NaN) is 50
            whole = np.isfinite(unique) & (unique == np.round(unique)) & (np.abs(unique) < 2.0**53)
            found = np.full(len(unique), -1, dtype=np.int64)
            found[whole] = items.get_indexer(unique[whole].astype(np.int64))
        else:
            text = pd.Series(unique, dtype=object).astype(str)
            whole = text.str.fullmatch(r"\s*-?[0-9]{1,18}\s*").to_numpy()
            found = np.full(len(unique), -1, dtype=np.int64)
            found[whole] = items.get_indexer(text[whole].astype(np.int64))
    else:
        found = items.get_indexer(pd.Series(unique, dtype=object).astype(str))
    return np.append(found, -1)[codes]  # code -1 (a missing id): the appended -1


def history_rows(items: pd.Index, interactions: pd.DataFrame) -> HistoryRows:
    """The histories of a table with columns user, item and optionally timestamp (as
    `read_dataset` gives them) over `items`.

    Items are matched as :func:`positions_in` matches them; a pair listed twice counts
    once, at its first time. A table without times (or whose times are all equal)
    orders each user's rows as they come, oldest first; rows of one user with equal
    times keep the order every sequence of the run was read in (by item).
    """
    for column in ("user", "item"):
        if column not in interactions:
            raise DataError(f"the histories need a {column!r} column; got {list(interactions.columns)}")
    item_ids = interactions["item"]
    positions = positions_in(items, item_ids)
    known = positions >= 0
    user_codes, users = pd.factorize(interactions["user"])  # ids of several types need no order
    for column, missing in (("user", user_codes < 0), ("item", interactions["item"].isna().to_numpy())):
        if missing.any():
            raise DataError(f"histories: the {column} id of the table's row {int(np.flatnonzero(missing)[0])} "
                            "(counting from 0) is missing")
    times = _times_of(interactions["timestamp"]) if "timestamp" in interactions else np.zeros(len(interactions))
    if len(times) and (times == times[0]).all():  # no times: each user's rows in the table's order
        times = pd.Series(user_codes).groupby(user_codes).cumcount().to_numpy(np.int64) + 1
    shape = (len(users), len(items))
    where, watched_at = (user_codes[known], positions[known]), times[known].astype(np.float64)
    timestamps = sp.csr_matrix((watched_at, where), shape=shape)  # a repeated pair's times summed: redone below
    if timestamps.nnz < len(watched_at):  # a pair listed twice (a table not from read_dataset): once, at its first time
        watched = pd.DataFrame({"row": where[0], "column": where[1], "time": watched_at})
        watched = watched.sort_values(["row", "time"], kind="stable").drop_duplicates(["row", "column"])
        timestamps = sp.csr_matrix((watched["time"].to_numpy(), (watched["row"].to_numpy(), watched["column"].to_numpy())),
                                   shape=shape)
    timestamps.sort_indices()
    history = sp.csr_matrix((np.ones(timestamps.nnz, dtype=np.float32), timestamps.indices.copy(), timestamps.indptr.copy()),
                            shape=shape)  # the same entries
    unknown = pd.Index(pd.unique(item_ids[~known].to_numpy()))
    return HistoryRows(pd.Index(users), history, timestamps, unknown, int((~known).sum()))
