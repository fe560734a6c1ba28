"""Split(train, valid, test) in raw ids, its checksum, and reading/writing it as CSV."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from movierec.atomic import atomic_write_bytes
from movierec.data.dataset import INTERACTION_COLUMNS
from movierec.data.interactions import sorted_by
from movierec.data.readers.plain_csv import read_plain_csv
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
    checked against the ``checksum.sha256`` `write_split` leaves beside them, where there is one."""
    folder = Path(folder)
    parts = {}
    for name in PARTS:
        path = folder / f"{name}.csv"
        if not path.is_file():
            raise DataError(f"{path}: missing; a split folder holds {', '.join(p + '.csv' for p in PARTS)}")
        parts[name] = read_plain_csv(path).interactions
    split = Split(**_same_id_types(parts))
    written = folder / "checksum.sha256"
    if written.is_file() and written.read_text().strip() != split.checksum():
        raise DataError(f"{folder}: train/valid/test.csv no longer match the checksum.sha256 written with them "
                        "(a part was edited, or one is from another split); write the split again, or delete "
                        "checksum.sha256 to use the files as they are")
    return split


def _same_id_types(parts: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Ids as text in every part when any part has a non-numeric id.

    Each file's ids become int64 when all of them are integers, so a test.csv that
    happens to hold only numeric ids of a data set with ids like "tt01" would not
    match train.csv's text ids (every test row would be an unknown id).
    """
    for column in ("user", "item"):
        if any(frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column])
               for frame in parts.values()):
            parts = {name: frame.assign(**{column: frame[column].astype(str).astype(object)})
                     for name, frame in parts.items()}
    return parts


def _column_bytes(values: pd.Series) -> bytes:
    """A column as bytes for the checksum: integers as int64, anything else as text."""
    if pd.api.types.is_integer_dtype(values):
        return b"i" + values.to_numpy(dtype=np.int64).tobytes()
    return b"t" + "\0".join(values.astype(str)).encode()


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    return sorted_by(frame.loc[:, list(INTERACTION_COLUMNS)], ["user", "timestamp", "item"])
