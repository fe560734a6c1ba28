"""A plain CSV of interactions: a header naming user and item columns, optionally a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from movierec.data.dataset import Dataset, interactions_frame
from movierec.data.filters import keep_rated
from movierec.data.readers._table import check_filled, rating_mask, read_table, separator_hint, to_seconds
from movierec.exceptions import DataError

USER_NAMES = ("user", "user_id", "userid", "userId")
ITEM_NAMES = ("item", "item_id", "itemid", "movieId", "movie_id", "movie")
TIME_NAMES = ("timestamp", "time", "ts", "datetime")
RATING_NAMES = ("rating",)


def read_plain_csv(path: Path, min_rating: float | None = None) -> Dataset:
    """Read ``user,item[,timestamp][,rating]`` (names matched case-insensitively; ``.tsv`` = tabs);
    with `min_rating`, only the rows rated at or above it."""
    user, item, time, kept = plain_columns(path, min_rating)
    interactions, notes = keep_rated(interactions_frame(user, item, time), kept, min_rating)
    return Dataset(path.stem, interactions, notes=notes)


def plain_columns(path: Path, min_rating: float | None = None) -> tuple[pd.Series, pd.Series, pd.Series | None,
                                                                       np.ndarray | None]:
    """The user and item columns of a plain CSV as written (text), its times (None
    without), and with `min_rating` which rows are rated at or above it (`rating_mask`)."""
    sep = "\t" if path.suffix == ".tsv" else ","
    table = read_table(path, sep=sep, required=[])
    user = _column(table.columns, USER_NAMES, path, "user", sep)
    item = _column(table.columns, ITEM_NAMES, path, "item", sep)
    time = _column(table.columns, TIME_NAMES, path, None, sep)
    check_filled(table, [c for c in (user, item, time) if c])  # one read, not two
    times = to_seconds(table, time) if time else None
    kept = rating_mask(table, _column(table.columns, RATING_NAMES, path, None, sep), min_rating)
    return table[user], table[item], times, kept


def _column(columns, names: tuple[str, ...], path: Path, required: str | None, sep: str) -> str | None:
    lowered = {str(c).lower(): c for c in columns}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    if required:
        raise DataError(
            f"{path}, line 1: no {required} column; expected one of {list(names)}, "
            f"found {list(columns)}{separator_hint(columns, sep)}"
        )
    return None
