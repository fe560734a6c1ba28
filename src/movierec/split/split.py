"""Split(train, valid, test) in raw ids, its checksum, and reading/writing it as CSV."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from movierec.atomic import atomic_write_bytes
from movierec.data.dataset import INTERACTION_COLUMNS, normalise_ids
from movierec.data.interactions import sorted_by
from movierec.data.readers.plain_csv import plain_columns
from movierec.exceptions import DataError, SplitError

PARTS = ("train", "valid", "test")


@dataclass(frozen=True)
class Split:
    """Three disjoint interaction frames (columns user, item, timestamp; raw ids).

    Validation is carved from the training part the way test is carved from the
    whole, so tuning on (train -> valid) mimics the final (train+valid -> test).
    """

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame

    def __post_init__(self) -> None:
        check_disjoint(self)

    @property
    def train_valid(self) -> pd.DataFrame:
        return pd.concat([self.train, self.valid], ignore_index=True)

    def parts(self) -> dict[str, pd.DataFrame]:
        return {"train": self.train, "valid": self.valid, "test": self.test}

    def csv_bytes(self) -> dict[str, bytes]:
        """Each part as the canonical CSV bytes written to disk (sorted, fixed columns)."""
        return {name: _canonical(frame).to_csv(index=False).encode() for name, frame in self.parts().items()}

    def checksum(self) -> str:
        """sha256 over the three parts in canonical order: equal checksums mean equal splits.

        The columns are hashed as arrays (integer ids and timestamps as int64 bytes,
        other ids as their text), not through a CSV rendering: at 5M rows writing the
        CSV took most of the time. Row order does not count; a value's type does (an
        integer id 7 and a text id "7" differ), as read_split gives back what
        write_split wrote.
        """
        digest = hashlib.sha256()
        for name, frame in self.parts().items():
            canonical = _canonical(frame)
            digest.update(f"{name}\0{len(canonical)}\0".encode())
            for column in INTERACTION_COLUMNS:
                digest.update(column.encode() + b"\0" + _column_bytes(canonical[column]))
        return digest.hexdigest()

    def summary(self) -> dict[str, int]:
        return {name: len(frame) for name, frame in self.parts().items()} | {
            "test_users": int(self.test["user"].nunique())
        }


def check_disjoint(split: Split) -> None:
    """Raise SplitError when a (user, item) pair is in two parts (a leak)."""
    for first, second in (("train", "test"), ("train", "valid"), ("valid", "test")):
        a, b = getattr(split, first), getattr(split, second)
        both = a[["user", "item"]].merge(b[["user", "item"]], on=["user", "item"])
        if len(both):
            # .tolist() gives plain Python values: 7, not np.int64(7), in the message
            user, item = both.iloc[0].tolist()
            raise SplitError(
                f"{len(both)} (user, item) pairs are in both {first} and {second} "
                f"(e.g. user {user!r}, item {item!r}); parts must be disjoint"
            )


def write_split(split: Split, folder: Path | str) -> str:
    """Write train/valid/test.csv (user,item,timestamp) atomically; return the checksum."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, payload in split.csv_bytes().items():
        atomic_write_bytes(folder / f"{name}.csv", payload)
    checksum = split.checksum()
    atomic_write_bytes(folder / "checksum.sha256", (checksum + "\n").encode())
    return checksum


def read_split(folder: Path | str) -> Split:
    """Read a pre-split folder: ``train.csv``, ``valid.csv``, ``test.csv`` (user,item[,timestamp]),
    checked against the ``checksum.sha256`` `write_split` leaves beside them, where there is one.

    The three parts' ids are typed together, by the rule of `normalise_ids`: a test.csv
    holding only number-like ids ("033") of a split whose ids are text elsewhere keeps
    them as written, as they were in the data set the split came from.
    """
    folder = Path(folder)
    columns = {}
    for name in PARTS:
        path = folder / f"{name}.csv"
        if not path.is_file():
            raise DataError(f"{path}: missing; a split folder holds {', '.join(p + '.csv' for p in PARTS)}")
        columns[name] = plain_columns(path)[:3]
    untimed = [name for name, (user, _, times) in columns.items() if times is None and len(user)]  # rows to misplace
    timed = [name + ".csv" for name, (_, _, times) in columns.items() if times is not None]
    if untimed and timed:  # time 0 would put those items first in every history
        raise DataError(f"{folder / (untimed[0] + '.csv')}, line 1: no time column, while {', '.join(timed)} have "
                        "one; give every part its times, or none")
    users = normalise_ids(pd.concat([user for user, _, _ in columns.values()], ignore_index=True))
    items = normalise_ids(pd.concat([item for _, item, _ in columns.values()], ignore_index=True))
    parts, start = {}, 0
    for name, (user, _, times) in columns.items():
        end = start + len(user)
        parts[name] = pd.DataFrame({
            "user": users.iloc[start:end].reset_index(drop=True),
            "item": items.iloc[start:end].reset_index(drop=True),
            "timestamp": np.zeros(end - start, dtype=np.int64) if times is None else times.to_numpy(dtype=np.int64),
        })
        start = end
    split = Split(**parts)
    written = folder / "checksum.sha256"
    if written.is_file() and written.read_text().strip() != split.checksum():
        raise DataError(f"{folder}: train/valid/test.csv no longer match the checksum.sha256 written with them "
                        "(a part was edited, or one is from another split); write the split again, or delete "
                        "checksum.sha256 to use the files as they are")
    return split


def _column_bytes(values: pd.Series) -> bytes:
    """A column as bytes for the checksum: integers as int64, anything else as text."""
    if pd.api.types.is_integer_dtype(values):
        return b"i" + values.to_numpy(dtype=np.int64).tobytes()
    return b"t" + "\0".join(values.astype(str)).encode()


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    return sorted_by(frame.loc[:, list(INTERACTION_COLUMNS)], ["user", "timestamp", "item"])
