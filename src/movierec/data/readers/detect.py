"""Recognise a data set's layout from the files in a folder and read it."""

from __future__ import annotations

from pathlib import Path

from movierec.data.dataset import Dataset
from movierec.data.readers.competition import RATINGS_FILE, read_competition
from movierec.data.readers.grouplens import read_csv_layout, read_dat, read_ml100k
from movierec.data.readers.plain_csv import read_plain_csv
from movierec.data.readers.recbole import read_recbole
from movierec.exceptions import DataError

LAYOUTS = ("ml-100k", "ml-dat", "ml-csv", "competition", "recbole", "csv")


def detect_layout(path: Path) -> str:
    """Name of the layout of `path` (a folder, or a single interactions file)."""
    if path.is_file():
        return "recbole" if path.suffix == ".inter" else "csv"
    if not path.is_dir():
        raise DataError(f"{path}: no such file or folder")
    if (path / "u.data").is_file():
        return "ml-100k"
    if (path / "ratings.dat").is_file():
        return "ml-dat"
    if (path / "ratings.csv").is_file():
        return "ml-csv"
    if (path / RATINGS_FILE).is_file():
        return "competition"
    if any(path.glob("*.inter")):
        return "recbole"
    raise DataError(
        f"{path}: no known layout; expected u.data (ml-100k), ratings.dat (ml-1m/10m), "
        f"ratings.csv (ml-20m/25m/latest), {RATINGS_FILE} (competition) or NAME.inter (RecBole)"
    )


def read_dataset(path: Path | str, *, layout: str | None = None, min_rating: float | None = None) -> Dataset:
    """Read any supported layout into a normalised :class:`Dataset` (raw ids); with
    `min_rating`, only the ratings at or above it are interactions (a layout without
    ratings refuses it: see :mod:`movierec.data.filters`)."""
    path = Path(path)
    layout = layout or detect_layout(path)
    name = path.stem if path.is_file() else path.name
    readers = {
        "ml-100k": lambda: read_ml100k(path, min_rating),
        "ml-dat": lambda: read_dat(path, name, min_rating),
        "ml-csv": lambda: read_csv_layout(path, name, min_rating),
        "competition": lambda: read_competition(path, min_rating),
        "recbole": lambda: read_recbole(path, min_rating),
        "csv": lambda: read_plain_csv(path, min_rating),
    }
    if layout not in readers:
        raise DataError(f"unknown layout {layout!r}; expected one of {list(readers)}")
    dataset = readers[layout]()
    if dataset.n_interactions == 0:
        raise DataError(f"{path}: holds no interactions")
    return dataset.normalised()
