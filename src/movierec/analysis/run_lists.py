"""A run folder's lists read back and scored per user: what the HTML report is made of.

A run folder keeps, besides its lists (``recommendations/<model>.csv``), the catalogue
(raw ids in index order, titles and side fields), the items known at test time and
the hidden test items (:mod:`movierec.output`). From those alone every per-user
figure can be recomputed without the models or the data set: accuracy, novelty,
popularity, diversity. A list file from another library (e.g. RecBole's, as
`movierec score` reads it) is scored the same way against the run's test items.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.data.idmap import IdMap
from movierec.evaluate import beyond, per_user_metrics
from movierec.evaluate.metrics import coverage
from movierec.evaluate.score_file import read_lists
from movierec.exceptions import DataError
from movierec.output import CATALOGUE, read_catalogue, read_metrics

GENRE_FIELD = "genre"


@dataclass
class ScoredLists:
    """One model's (or one file's) top-k lists for the test users, scored per user."""

    label: str  # how the report names it: the model, or "run/model" beside other runs
    run: str
    users: np.ndarray  # test users (indices), one row each
    items: np.ndarray  # (n_users, k), -1 for empty slots
    per_user: dict[str, np.ndarray]  # metric -> one value per user
    catalogue_level: dict[str, float]  # coverage and exposure Gini: one figure per list set
    notes: tuple[str, ...] = ()  # what reading a list file left out or counted as misses
    valid: float | None = None  # the model's validation Recall@k in its run (None: a list file)


@dataclass
class RunFolder:
    """What a run folder holds, read once: its metrics, catalogue, known and test items."""

    folder: Path
    metrics: dict[str, Any]
    idmap: IdMap
    items: pd.DataFrame  # per item in index order: raw id, title and side fields
    known: sp.csr_matrix  # users x items, masked at test time (the history the lists came from)
    test: sp.csr_matrix  # users x items, the hidden test items
    genres: sp.csr_matrix | None = field(default=None)  # items x genres, when the run had them
    title: str | None = None  # what the report calls the run; None: the folder's name

    @classmethod
    def read(cls, folder: Path | str, title: str | None = None) -> RunFolder:
        """The run in `folder`; `title` names it where the folder is not yet the run's own
        (a run writes its report in a staging folder before publishing it)."""
        folder = Path(folder)
        catalogue = folder / CATALOGUE
        for needed in (folder / "metrics.json", catalogue / "items.csv", catalogue / "test.npz"):
            if not needed.is_file():
                raise DataError(f"{folder}: not a movierec run folder with a catalogue (no {needed.relative_to(folder)}); "
                                "make one with `movierec run --out DIR`")
        idmap, items, known = read_catalogue(catalogue)
        test = sp.load_npz(catalogue / "test.npz").tocsr()
        metrics = read_metrics(folder)
        return cls(folder, metrics, idmap, items, known, test, _genres(items), title)

    @property
    def name(self) -> str:
        return self.title or self.folder.name

    @cached_property
    def popularity(self) -> np.ndarray:
        """Users per item in the known items (the history the lists were made from)."""
        return beyond.item_popularity(self.known)

    @property
    def k(self) -> int:
        return int(self.metrics.get("k", 10))

    @property
    def models(self) -> list[str]:
        """Models with written lists, in the run's order."""
        written = {path.stem for path in (self.folder / "recommendations").glob("*.csv")}
        return [name for name in self.metrics["models"] if name in written]

    def scored(self, model: str, label: str | None = None) -> ScoredLists:
        lists = self.score_lists(self.folder / "recommendations" / f"{model}.csv", label or model)
        valid = self.metrics["models"].get(model, {}).get("valid", {}).get(f"recall@{self.k}")
        return replace(lists, valid=float(valid)) if valid is not None else lists

    def score_lists(self, path: Path | str, label: str) -> ScoredLists:
        """Score a list file (user,item[,rank][,score] in raw ids) against this run's test items."""
        users, items, notes = read_lists(path, self.idmap, self.test, self.k)
        per_user = per_user_metrics(items, self.test, users=users, k=self.k)
        popularity = self.popularity
        per_user["novelty"] = beyond.novelty(items, popularity, self.known.shape[0])
        per_user["popularity"] = beyond.recommended_popularity(items, popularity)
        per_user["popularity_lift"] = beyond.popularity_lift(items, popularity, self.known[users])
        if self.genres is not None:
            per_user["genre_diversity"] = beyond.intra_list_diversity(items, self.genres)
        level = {f"coverage@{self.k}": coverage(items, self.idmap.n_items),
                 "exposure_gini": beyond.exposure_gini(items, self.idmap.n_items)}
        return ScoredLists(label, self.name, users, items, per_user, level, tuple(notes))

    def history_lengths(self, users: np.ndarray) -> np.ndarray:
        return np.diff(self.known.indptr)[users]


def _genres(items: pd.DataFrame) -> sp.csr_matrix | None:
    """Items x genres multi-hot from the catalogue's "|"-joined genre column, if any."""
    if GENRE_FIELD not in items:
        return None
    values = items[GENRE_FIELD].fillna("").astype(str).str.split("|")
    exploded = values.explode()
    exploded = exploded[exploded != ""]
    codes, names = pd.factorize(exploded)
    if not len(names):
        return None
    rows = exploded.index.to_numpy()
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, codes)), shape=(len(items), len(names)))
