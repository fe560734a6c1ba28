"""What a run leaves on disk: lists, submission, metrics, config, report, catalogue; all atomic.

The catalogue (``catalogue/``) is what a loaded run needs to serve its models
(:mod:`movierec.serving`): the raw ids of users and items in index order, the items'
titles and side fields for display, and the known items masked at test time; with the
hidden test items beside them it is also what `movierec report` scores the lists against.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import scipy.sparse as sp

from movierec.atomic import atomic_write_bytes
from movierec.data.dataset import Dataset
from movierec.data.idmap import IdMap
from movierec.exceptions import ConfigError, DataError

CATALOGUE = "catalogue"
# what a run writes into its folder; a new run into the folder removes these first
RUN_ENTRIES = ("models", "recommendations", CATALOGUE, "metrics.json", "submission.csv", "config.toml",
               "split.sha256", "report.md", "report.html")
RUN_MARKER = ".movierec-run"  # marks a folder a run was published into


def check_run_folder(folder: Path) -> bool:
    """Whether `folder` holds an earlier run that a new run there would replace.

    Raises
    ------
    ConfigError
        `folder` holds some of a run's names (a project's own ``models/``) but is not a
        movierec run folder: a run replaces only a run, never empties someone's folder.
    """
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} is a file; --out names the run's folder")
    present = [name for name in RUN_ENTRIES if (folder / name).exists() or (folder / name).is_symlink()]
    earlier = (folder / RUN_MARKER).is_file() or ((folder / "metrics.json").is_file() and (folder / CATALOGUE).is_dir())
    if present and not earlier:
        raise ConfigError(f"{folder} holds {', '.join(present)} but is not a movierec run folder; give a new or "
                          "empty --out (a run replaces only a run)")
    return bool(present)


def staging_folder(folder: Path) -> Path:
    """Where a run into `folder` writes until it has finished: a hidden folder inside it,
    on the same file system, so publishing is a rename per entry."""
    return folder / ".movierec-partial"


def publish_run(staging: Path, folder: Path) -> bool:
    """Move a finished run from `staging` into `folder`, replacing the run there (its
    entries only; see `check_run_folder`). True if an earlier run was replaced.

    Until this moment the earlier run stays whole, so a run that fails or is stopped
    leaves it as it was; each entry is moved by a rename, and `folder` never shows a
    mix of two runs' models.
    """
    replaced = check_run_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in RUN_ENTRIES:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    for entry in sorted(staging.iterdir()):
        os.replace(entry, folder / entry.name)
    atomic_write_bytes(folder / RUN_MARKER, b"a movierec run folder: a new run here replaces this one\n")
    staging.rmdir()
    return replaced


def recommendations_frame(idmap: IdMap, users: np.ndarray, items: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """Ranked lists in raw ids: columns user, item, rank (1-based), score."""
    n, k = items.shape
    keep = (items >= 0).ravel()
    return pd.DataFrame(
        {
            "user": np.repeat(idmap.raw_users(users), k)[keep],
            "item": idmap.raw_items(np.maximum(items, 0).ravel())[keep],
            "rank": np.tile(np.arange(1, k + 1), n)[keep],
            "score": scores.ravel()[keep],
        }
    )


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """`frame` as CSV (no index), floats in their shortest exact form.

    Arrow's writer where no field needs quoting (ids, ranks, scores: many times faster
    than pandas' ``to_csv`` on the lists of a large run, docs/results.md); pandas',
    which quotes what needs it, where a field holds a comma, a quote or a newline
    (titles, text ids).
    """
    try:
        buffer = io.BytesIO()
        header = io.StringIO()
        csv.writer(header, lineterminator="\n").writerow([str(c) for c in frame.columns])
        buffer.write(header.getvalue().encode())
        pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), buffer,
                        write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))
        payload = buffer.getvalue()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        text = io.StringIO()
        frame.to_csv(text, index=False)
        payload = text.getvalue().encode()
    atomic_write_bytes(path, payload)


def write_json(payload: Any, path: Path) -> None:
    atomic_write_bytes(path, (json.dumps(payload, indent=2, default=_plain) + "\n").encode())


def write_text(text: str, path: Path) -> None:
    atomic_write_bytes(path, text.encode())


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A small GitHub-markdown table (floats to 4 decimals)."""
    def cell(value: Any) -> str:
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_catalogue(folder: Path, idmap: IdMap, known: sp.csr_matrix, dataset: Dataset | None, *,
                    test: sp.csr_matrix | None = None) -> None:
    """`users.csv` and `items.csv` (raw ids in index order; items with title and side
    fields, several values joined by "|"), `known.npz` (users x items, the items
    masked at test time) and `test.npz` (the hidden test items, for the report) under `folder`."""
    write_csv(pd.DataFrame({"user": idmap.users.to_numpy()}), folder / "users.csv")
    items = pd.DataFrame({"item": idmap.items.to_numpy()})
    if dataset is not None:
        if dataset.item_titles is not None:
            titles = dataset.item_titles[~dataset.item_titles.index.duplicated()]
            items["title"] = titles.reindex(items["item"]).to_numpy()
        for name, field in dataset.item_fields.items():
            values = field.values.astype({"value": str}).groupby("id")["value"].agg("|".join)
            items[name] = values.reindex(items["item"]).to_numpy()
    write_csv(items, folder / "items.csv")
    _write_npz(known, folder / "known.npz")
    if test is not None:
        _write_npz(test, folder / "test.npz")


def _write_npz(matrix: sp.csr_matrix, path: Path) -> None:
    """`matrix` as scipy's ``.npz`` (what ``sp.load_npz`` reads), deflated at level 1.

    ``sp.save_npz`` deflates at zlib's default level 6, several times slower than level
    1 on large matrices for a file only slightly smaller (docs/results.md).
    """
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    members = {"indices": matrix.indices, "indptr": matrix.indptr, "format": np.array(b"csr"),
               "shape": np.array(matrix.shape), "data": matrix.data}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True) as archive:
        for name, array in members.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())


def read_metrics(folder: Path) -> dict[str, Any]:
    """A run's metrics.json, checked for what readers take from it (a table of models).

    Raises
    ------
    DataError
        The file is not JSON, or not a run's metrics (naming the file and what is wrong).
    """
    path = folder / "metrics.json"
    try:
        metrics = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
                        "the run folder is damaged: run it again") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte {error.start}); the run folder is damaged: run it "
                        "again") from None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("models"), dict) \
            or not all(isinstance(entry, dict) for entry in metrics["models"].values()):
        raise DataError(f"{path}: not a run's metrics (an object with a \"models\" table of objects); "
                        "the run folder is damaged: run it again")
    return metrics


def read_catalogue(folder: Path) -> tuple[IdMap, pd.DataFrame, sp.csr_matrix]:
    """What :func:`write_catalogue` wrote under `folder`: the IdMap in the run's own index
    order, the items' table (raw id, title, side fields) and the known items."""
    from movierec.data.dataset import normalise_ids
    from movierec.data.readers._table import read_table

    users = read_table(folder / "users.csv", sep=",", required=["user"])
    items = read_table(folder / "items.csv", sep=",", required=["item"])
    items["item"] = normalise_ids(items["item"])
    # the run's own index order, as written (IdMap.from_ids would sort again)
    idmap = IdMap(pd.Index(normalise_ids(users["user"])), pd.Index(items["item"]))
    return idmap, items, sp.load_npz(folder / "known.npz").tocsr()
