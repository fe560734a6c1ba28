"""A split as RecBole benchmark files: NAME.{train,valid,test}.inter plus .item/.user.

RecBole reads them with ``benchmark_filename: [train, valid, test]`` in its config,
so its models train, validate and test on exactly movierec's split. Fields derived
from events (tags) are written as the training part sees them: RecBole trains on
train, and a hidden pair's own tag must not reach it.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd

from movierec.atomic import atomic_write_bytes
from movierec.data.dataset import Dataset, FieldKind, RawField
from movierec.exceptions import ConfigError
from movierec.split.split import Split

INTER_HEADER = ["user_id:token", "item_id:token", "timestamp:float"]


def export_recbole(split: Split, out: Path | str, name: str, dataset: Dataset | None = None) -> list[Path]:
    """Write the split (and side fields of `dataset`) under ``out/name``; returns the files.

    A side file an earlier export left there that this one does not write is removed, so
    RecBole never reads side fields of another export beside this split.

    Raises
    ------
    ConfigError
        `name` is not a plain name: it becomes a folder and every file's prefix, so a
        path in it ("../x") would write outside `out`.
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ConfigError(f"the RecBole data set name (--name) must be letters, digits, '.', '_' or '-', "
                          f"got {name!r}: it names a folder under --out and prefixes each file")
    folder = Path(out) / name
    written = []
    for part, frame in split.parts().items():
        table = frame[["user", "item", "timestamp"]].sort_values(["user", "timestamp", "item"], kind="stable")
        written.append(_write(table, INTER_HEADER, folder / f"{name}.{part}.inter"))
    sides = {"item": ({}, "item_id"), "user": ({}, "user_id")}
    if dataset is not None:
        users = pd.Index(pd.concat([frame["user"] for frame in split.parts().values()]).unique())
        sides["item"] = (dataset.item_fields | {name: events.as_seen_from(split.train, users)
                                                for name, events in dataset.item_events.items()}, "item_id")
        sides["user"] = (dataset.user_fields, "user_id")
    for suffix, (fields, id_name) in sides.items():
        path = folder / f"{name}.{suffix}"
        if fields:
            table, header = _side_table(fields, id_name)
            written.append(_write(table, header, path))
        else:  # an earlier export's side file would be read by RecBole beside this split
            path.unlink(missing_ok=True)
    return written


def _side_table(fields: dict[str, RawField], id_name: str) -> tuple[pd.DataFrame, list[str]]:
    """One row per entity: one-hot fields as token, multi-hot as space-separated token_seq."""
    columns = []
    header = [f"{id_name}:token"]
    for name, field in fields.items():
        values = field.values.assign(value=field.values["value"].astype(str).str.replace(r"\s+", "_", regex=True))
        if field.kind is FieldKind.MULTI_HOT:
            column = values.groupby("id")["value"].agg(" ".join)
            header.append(f"{name}:token_seq")
        else:
            column = values.drop_duplicates("id").set_index("id")["value"]
            header.append(f"{name}:token")
        columns.append(column.rename(name))
    table = pd.concat(columns, axis=1).fillna("").reset_index()
    return table, header


def _write(table: pd.DataFrame, header: list[str], path: Path) -> Path:
    buffer = io.StringIO()
    table.to_csv(buffer, sep="\t", index=False, header=header)
    atomic_write_bytes(path, buffer.getvalue().encode())
    return path
