"""The competition layout: ``train_ratings.csv`` plus per-item ``.tsv`` side files.

``train_ratings.csv`` has the header ``user,item,time`` (in any case: ``User`` too). Each side file is a
tab-separated table with a header whose first column is ``item`` and second the value
(``genres.tsv``: item, genre; ``directors.tsv``: item, director; ``writers.tsv``: item,
writer; ``years.tsv``: item, year; ``titles.tsv``: item, title). Several rows for one
item make the field multi-hot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from movierec.data.dataset import Dataset, FieldKind, RawField, interactions_frame, normalise_ids
from movierec.data.filters import keep_rated
from movierec.data.readers._table import first_clash, line_of, rating_mask, read_table, to_seconds
from movierec.exceptions import DataError

RATINGS_FILE = "train_ratings.csv"
# file -> (field name, kind); a one-hot file with repeated items is an error.
SIDE_FILES = {
    "genres.tsv": ("genre", FieldKind.MULTI_HOT),
    "directors.tsv": ("director", FieldKind.MULTI_HOT),
    "writers.tsv": ("writer", FieldKind.MULTI_HOT),
    "years.tsv": ("year", FieldKind.ONE_HOT),
}


NUMERIC_FIELDS = ("year",)  # side fields whose values are whole numbers (features read them as numbers)


def read_competition(folder: Path, min_rating: float | None = None) -> Dataset:
    ratings = read_table(folder / RATINGS_FILE, sep=",", required=["user", "item", "time"],
                         integers=("user", "item", "time"), fold_case=True, optional=("rating",))
    interactions, notes = keep_rated(interactions_frame(
        ratings["user"], ratings["item"], to_seconds(ratings, "time")
    ), rating_mask(ratings, "rating" if "rating" in ratings.columns else None, min_rating), min_rating)
    fields: dict[str, RawField] = {}
    for filename, (name, kind) in SIDE_FILES.items():
        path = folder / filename
        if path.is_file():
            fields[name] = _side_field(path, name, kind)
    titles = None
    if (folder / "titles.tsv").is_file():
        table = read_table(folder / "titles.tsv", sep="\t", required=["item", "title"], quoting=False,
                           fold_case=True)
        titles = pd.Series(table["title"].to_numpy(), index=normalise_ids(table["item"]).to_numpy())
        if "year" not in fields:  # the year is inside the title: "Heat (1995)"
            year = table["title"].str.extract(r"\((\d{4})\)\s*$")[0]
            frame = pd.DataFrame({"id": titles.index, "value": year.to_numpy()}).dropna()
            fields["year"] = RawField("year", FieldKind.ONE_HOT, frame.reset_index(drop=True))
    return Dataset(folder.name, interactions, fields, {}, titles, notes)


def _all_digits(values: pd.Series) -> bool:
    """Whether every value is ASCII digits only (years as written), checked by Arrow at C speed."""
    return bool(pc.all(pc.match_substring_regex(pa.array(values, type=pa.string()), r"^[0-9]+$")).as_py())


def _side_field(path: Path, name: str, kind: FieldKind) -> RawField:
    table = read_table(path, sep="\t", required=["item"], quoting=False, fold_case=True)
    if len(table.columns) < 2:
        raise DataError(f"{path}, line 1: expects two columns, item and a value")
    value_column = table.columns[1]
    empty = (table[value_column].str.strip() == "").to_numpy()
    if empty.any():  # an item row without a value is malformed, not "no value"
        row = int(np.flatnonzero(empty)[0])
        raise DataError(f"{path}, line {line_of(table, row)}: item {table['item'].iloc[row]!r} has no {name}")
    frame = pd.DataFrame(
        {"id": normalise_ids(table["item"]).to_numpy(), "value": table[value_column].str.strip().to_numpy()}
    )
    # one stray word would make every year a category, not a number; 1959.0 (a float column's) is 1959
    if name in NUMERIC_FIELDS and not _all_digits(frame["value"]):
        whole = frame["value"].str.extract(r"^(\d+)(?:\.0*)?$")[0]
        if whole.isna().any():
            row = int(np.flatnonzero(whole.isna().to_numpy())[0])
            raise DataError(f"{path}, line {line_of(table, row)}: item {table['item'].iloc[row].strip()!r} has "
                            f"{name} {frame['value'].iloc[row]!r}; a {name} is a whole number, such as 1995")
        frame["value"] = whole.to_numpy()
    if kind is FieldKind.ONE_HOT:
        row = first_clash(frame["id"], frame)  # a repeated identical row is harmless; a second value is not
        if row is not None:
            raise DataError(
                f"{path}, line {line_of(table, row)}: item {table['item'].iloc[row].strip()!r} has a second "
                f"{name} value {frame['value'].iloc[row]!r}; {name} takes one value per item"
            )
    frame = frame.drop_duplicates().reset_index(drop=True)
    return RawField(name, kind, frame)
