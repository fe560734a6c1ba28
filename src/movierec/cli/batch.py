"""`movierec recommend --users` and `--histories`: lists for many users into one CSV
(user,rank,item,score): known users of the run, or a file's new users by fold-in."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from movierec.cli.common import console, print_notes
from movierec.exceptions import ConfigError


def recommend_histories(run, histories: Path, out: Path, k: int, model: str | None, min_rating: float | None) -> None:
    """Read `histories` (any layout `run` reads), score each user's rows by fold-in, write
    the lists to `out` (user,rank,item,score); notes on stderr say what was left out, and
    where the run kept only some ratings as positives, whether the file's are read alike."""
    from movierec.data.readers import read_dataset
    from movierec.output import write_csv

    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give the CSV file's path")
    dataset = read_dataset(histories, min_rating=min_rating)
    notes = [note for note in dataset.notes if " ids are read as text" not in note]  # matched as numbers here too
    run_threshold = _run_min_rating(run.folder / "config.toml")
    if run_threshold is not None and min_rating is None:
        notes.append(f"the run kept only ratings at or above {run_threshold:g} as positives (its [filter]); every row "
                     f"of {histories.name} is history here (if it holds ratings, --min-rating {run_threshold:g} reads "
                     "them alike)")
    name = run.history_model(model)
    result = run.recommend_histories(dataset.interactions, k, name)
    write_csv(result.lists, out)
    if result.unknown_items:
        notes.append(f"{result.unknown_rows} rows name {len(result.unknown_items)} items not in the run's catalogue "
                     f"(left out): {some(result.unknown_items)}")
    if result.unscored_users:
        notes.append(f"{len(result.unscored_users)} users have no list: {name} scores every item alike for their "
                     f"histories (no item it learned from): {some(result.unscored_users)}")
    print_notes(notes)
    console.print(f"{name}: top {k} for {result.lists['user'].nunique():,} users -> {out}")


def some(values: list, shown: int = 5) -> str:
    """The first few of `values`, for a note."""
    return ", ".join(map(str, values[:shown])) + (", ..." if len(values) > shown else "")


def recommend_users(run, users: str, out: Path, k: int, model: str | None) -> None:
    """`recommend --users all|FILE`: every known user, or those of a file's ``user``
    column (ids the run does not know are noted and left out), written to `out`."""
    from movierec.data.readers._table import read_table
    from movierec.output import write_csv
    from movierec.serving.histories import positions_in

    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give the CSV file's path")
    notes, asked = [], None
    if users != "all":
        table = read_table(Path(users), sep=",", required=["user"], fold_case=True)
        ids = table["user"].str.strip()
        positions = positions_in(run.users, ids)
        if (positions < 0).any():
            unknown = ids[positions < 0].unique().tolist()
            notes.append(f"{len(unknown)} users of {Path(users).name} are not in the run (left out): {some(unknown)}")
        asked = run.users[pd.unique(positions[positions >= 0])]
    name = model or run.default_model()
    lists = run.recommend_users(asked, k, name)
    write_csv(lists, out)
    print_notes(notes)
    console.print(f"{name}: top {k} for {lists['user'].nunique():,} users -> {out}")


def _run_min_rating(path: Path) -> float | None:
    """The run's [filter] min_rating, read alone: a config an older version wrote, or one
    today's checks refuse, must not stop scoring a file (it only feeds a note)."""
    from movierec.config import tomllib

    try:
        value = tomllib.loads(path.read_text()).get("filter", {}).get("min_rating")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
