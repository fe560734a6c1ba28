"""RecBole atomic files: ``NAME.inter``, ``NAME.item``, ``NAME.user``.

Each file is tab separated with a ``name:type`` header (RecBole's data docs); types
are ``token``, ``token_seq`` (space separated), ``float`` and ``float_seq``. Token
side fields become one-hot fields, token_seq fields multi-hot; float fields carry no
categories and are left out.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from movierec.data.dataset import Dataset, FieldKind, RawField, interactions_frame, normalise_ids
from movierec.data.filters import keep_rated
from movierec.data.readers._table import first_clash, line_of, rating_mask, read_table, split_multi, to_int
from movierec.exceptions import DataError


def read_atomic_header(path: Path) -> dict[str, str]:
    """Column name -> RecBole type from a header line like ``user_id:token``."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        header = handle.readline().rstrip("\n\r").split("\t")
    types: dict[str, str] = {}
    for column in header:
        name, _, kind = column.partition(":")
        if kind not in {"token", "token_seq", "float", "float_seq"}:
            raise DataError(f"{path}, line 1: column {column!r} is not of the form name:type")
        if name in types:
            raise DataError(f"{path}, line 1: column {name!r} appears twice")
        types[name] = kind
    return types


def read_recbole(path: Path, min_rating: float | None = None) -> Dataset:
    """Read ``path`` (a folder holding one ``.inter`` file, or the ``.inter`` file);
    with `min_rating`, only the rows whose ``rating`` is at or above it."""
    inter = _find_inter(path)
    stem = inter.name[: -len(".inter")]
    types = read_atomic_header(inter)
    table = _read_atomic(inter, types)
    if "user_id" not in types or "item_id" not in types:
        raise DataError(f"{inter}, line 1: needs user_id:token and item_id:token columns")
    timestamp = to_int(table, "timestamp") if "timestamp" in types else None
    interactions, notes = keep_rated(interactions_frame(table["user_id"], table["item_id"], timestamp),
                                     rating_mask(table, "rating" if "rating" in types else None, min_rating), min_rating)
    item_fields, titles = _side(inter.with_name(stem + ".item"), "item_id")
    user_fields, _ = _side(inter.with_name(stem + ".user"), "user_id")
    return Dataset(stem, interactions, item_fields, user_fields, titles, notes)


def _find_inter(path: Path) -> Path:
    if path.is_file():
        return path
    candidates = sorted(p for p in path.glob("*.inter") if p.name.count(".") == 1)
    if len(candidates) != 1:
        raise DataError(
            f"{path}: expected exactly one NAME.inter file, found {[p.name for p in candidates]}"
        )
    return candidates[0]


def _read_atomic(path: Path, types: dict[str, str]) -> pd.DataFrame:
    table = read_table(path, sep="\t", required=[], quoting=False)
    table.columns = list(types)
    return table


def _side(path: Path, id_column: str) -> tuple[dict[str, RawField], pd.Series | None]:
    if not path.is_file():
        return {}, None
    types = read_atomic_header(path)
    if id_column not in types:
        raise DataError(f"{path}, line 1: needs a {id_column}:token column")
    table = _read_atomic(path, types)
    ids = normalise_ids(table[id_column])
    row = first_clash(ids, table)
    if row is not None:
        raise DataError(f"{path}, line {line_of(table, row)}: {id_column} {table[id_column].iloc[row].strip()!r} "
                        "has a second row that differs from its first; one row per id")
    again = ids.duplicated(keep="first").to_numpy()
    table, ids = table[~again], ids[~again]
    fields: dict[str, RawField] = {}
    titles = None
    for name, kind in types.items():
        if name == id_column:
            continue
        if kind == "token":
            frame = pd.DataFrame({"id": ids.to_numpy(), "value": table[name].str.strip().to_numpy()})
            frame = frame[frame["value"] != ""].drop_duplicates("id").reset_index(drop=True)
            fields[name] = RawField(name, FieldKind.ONE_HOT, frame)
        elif kind == "token_seq":
            if "title" in name:  # titles are for display; their words are near-unique
                titles = pd.Series(table[name].to_numpy(), index=ids.to_numpy())
                continue
            fields[name] = RawField(name, FieldKind.MULTI_HOT, split_multi(ids, table[name], " ").drop_duplicates())
    return fields, titles
