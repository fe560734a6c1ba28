"""A split in index space, encoded once: matrices, timestamps and side fields per history.

Models are fitted on one of three histories, and each needs its matrix, its
timestamps (aligned with the matrix's non-zeros) and its side fields:

====================  ======================  ==========================================
history               fitted when             what it recommends for
====================  ======================  ==========================================
``"train"``           tuning on valid         valid (and test, without a refit)
``"train_valid"``     the refit               test
``"all"``             the final submission    the competition's hidden items
====================  ======================  ==========================================

Fields derived from events (tags) are built per history from the events that history
may see (:meth:`movierec.data.dataset.EventField.as_seen_from`), so a hidden pair's
own tag never reaches a model fitted without it.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec import progress as live
from movierec.data.dataset import Dataset
from movierec.data.download import resolve
from movierec.data.encoded import EncodedFeatures, ItemEvents, encode_fields
from movierec.data.filters import DataFilter, read_filtered
from movierec.data.idmap import IdMap
from movierec.data.interactions import csr_from_indices, timestamps_from_indices
from movierec.exceptions import ConfigError, SplitError
from movierec.split.split import Split, read_split
from movierec.split.splitters import SplitSpec, make_split

HISTORIES = ("train", "train_valid", "all")
_PARTS = {"train": ("train",), "train_valid": ("train", "valid"), "all": ("train", "valid", "test")}


class EncodedSplit:
    """Train, valid and test as users x items matrices over one IdMap, with what models read.

    The item catalogue is every item of the three parts, so test items never seen in
    training are still rankable (and unreachable for pure collaborative models).
    Everything is computed once, on first use.

    Parameters
    ----------
    split : the raw-id split.
    dataset : where side fields come from (None: no side fields).
    """

    def __init__(self, split: Split, dataset: Dataset | None = None) -> None:
        self.split = split
        self.dataset = dataset
        every = pd.concat([split.train, split.valid, split.test], ignore_index=True)
        self.idmap = IdMap.from_ids(every["user"], every["item"])
        shape = (self.idmap.n_users, self.idmap.n_items)
        # kept (as int32 where they fit) for the timestamps each history builds on first use
        small = np.int32 if max(shape) < 2 ** 31 else np.int64
        self._indices = {part: (self.idmap.user_index(getattr(split, part)["user"]).astype(small),
                                self.idmap.item_index(getattr(split, part)["item"]).astype(small))
                         for part in _PARTS["all"]}
        self.train, self.valid, self.test = (csr_from_indices(*self._indices[part], shape) for part in _PARTS["all"])
        self.notes = list(dataset.notes) if dataset is not None else []
        self._static = EncodedFeatures()
        if dataset is not None:
            item_fields, dropped_items = encode_fields(dataset.item_fields, self.idmap.items)
            user_fields, dropped_users = encode_fields(dataset.user_fields, self.idmap.users)
            self._static = EncodedFeatures(item_fields, user_fields)
            if dropped_items:
                self.notes.append(f"skipped {dropped_items} side-feature rows of items without interactions")
            if dropped_users:
                self.notes.append(f"skipped {dropped_users} side-feature rows of users without interactions")
        self.notes += _cold_notes(self.train, self.valid, self.test)
        self._times: dict[str, sp.csr_matrix] = {}
        self._features: dict[str, EncodedFeatures] = {}

    def described_items(self) -> int:
        """Items with a value in at least one static item field."""
        described = np.zeros(self.idmap.n_items, dtype=bool)
        for encoded in self._static.item_fields.values():
            described |= np.diff(encoded.matrix.indptr) > 0
        return int(described.sum())

    @cached_property
    def train_valid(self) -> sp.csr_matrix:
        return (self.train + self.valid).tocsr()

    @cached_property
    def everything(self) -> sp.csr_matrix:
        return (self.train_valid + self.test).tocsr()

    def history(self, name: str) -> sp.csr_matrix:
        """The matrix of history `name` (one of ``HISTORIES``)."""
        return {"train": self.train, "train_valid": self.train_valid, "all": self.everything}[_check(name)]

    def timestamps(self, name: str) -> sp.csr_matrix:
        """Seconds with exactly the non-zeros of ``history(name)``."""
        if _check(name) not in self._times:
            parts = _PARTS[name]
            rows, cols = (np.concatenate([self._indices[part][axis] for part in parts]) for axis in (0, 1))
            seconds = np.concatenate([getattr(self.split, part)["timestamp"].to_numpy(np.float64) for part in parts])
            self._times[name] = timestamps_from_indices(rows, cols, seconds, (self.idmap.n_users, self.idmap.n_items))
        return self._times[name]

    def features(self, name: str) -> EncodedFeatures:
        """The side fields a model fitted on history `name` may read: the static fields,
        and the event fields as seen from that history."""
        if _check(name) not in self._features:
            events = self.dataset.item_events if self.dataset is not None else {}
            self._features[name] = (ItemEvents(events, self._static, self.idmap.users, self.idmap.items)
                                    .seen_from(self.history(name)) if events else self._static)
        return self._features[name]


def _cold_notes(train: sp.csr_matrix, valid: sp.csr_matrix, test: sp.csr_matrix) -> list[str]:
    """Notes on test users and items that no fitted model has seen: users ranked from an
    empty history, items learned from nothing (side fields aside). What any random
    hold-out leaves a few of, and a split folder made elsewhere may hold many of. A
    model fitted on train (no refit) has not seen the validation part either."""
    notes = []
    for what, in_train, in_valid, in_test in (
            ("users", np.diff(train.indptr) > 0, np.diff(valid.indptr) > 0, np.diff(test.indptr) > 0),
            ("items", train.getnnz(axis=0) > 0, valid.getnnz(axis=0) > 0, test.getnnz(axis=0) > 0)):
        unseen = int((in_test & ~in_train & ~in_valid).sum())
        valid_only = int((in_test & ~in_train & in_valid).sum())
        if unseen or valid_only:
            notes.append(f"{unseen} test {what} occur in neither train nor validation, and {valid_only} more only in "
                         f"validation: no model has seen the {unseen}, and only a refit the {valid_only}")
    return notes


def _check(name: str) -> str:
    if name not in HISTORIES:
        raise ConfigError(f"history {name!r} unknown; expected one of {HISTORIES}")
    return name


def load_encoded(*, data: str | None, data_dir: str | Path | None, split_dir: str | Path | None,
                 spec: SplitSpec, data_filter: DataFilter | None = None) -> EncodedSplit:
    """Read a data set (named or a path), keep what `data_filter` keeps (a rating
    threshold, a k-core) and split it by `spec`, or read a pre-split folder (`split_dir`,
    side fields from `data` when given), and encode it."""
    if data is None and split_dir is None:
        raise ConfigError("give a data set (--data) or a pre-split folder (--split-dir)")
    data_filter = data_filter or DataFilter()
    if split_dir is not None and data_filter.active:
        raise ConfigError("a split folder (--split-dir) holds its interactions already: min_rating, min_user_items "
                          "and min_item_users filter a data set before it is split; give one or the other")
    with live.task("reading and splitting the data", total=3) as line:
        dataset = read_filtered(resolve(data, data_dir), data_filter) if data is not None else None
        line.advance(description="splitting" if split_dir is None else "reading the split")
        split = read_split(split_dir) if split_dir is not None else make_split(dataset.interactions, spec)
        line.advance(description="encoding the split")
        encoded = EncodedSplit(split, dataset)
        line.advance()
    if split_dir is not None and dataset is not None:
        encoded.notes += foreign_fields_notes(encoded, dataset)
    return encoded


def foreign_fields_notes(encoded: EncodedSplit, dataset: Dataset) -> list[str]:
    """A note where most of a split folder's items have no row in `dataset`'s side fields:
    side files of another data set, most likely (the ids match nothing)."""
    described = encoded.described_items()
    if not dataset.item_fields or described >= 0.5 * encoded.idmap.n_items:
        return []
    return [f"only {described} of the split's {encoded.idmap.n_items} items have a row in {dataset.name}'s side "
            f"fields: is it the data set the split was made from (--data)?"]


def require_holdout(data: EncodedSplit, source: str | Path | None) -> None:
    """Raise a SplitError naming `source` where the split holds no validation or no test
    items: nothing to tune or test on (a split folder made elsewhere; `make_split`
    refuses to make one)."""
    empty = [part for part in ("valid", "test") if not getattr(data, part).nnz]
    if empty:
        raise SplitError(f"{source}: the split holds no {' and no '.join(empty)} items; nothing to tune or test on")
