"""Which interactions a run learns from: explicit ratings as implicit positives above a
threshold, and the k-core that published protocols keep.

MovieLens holds ratings, not watches. Every rating is a positive by default (the
competition's watch histories have none); ``min_rating = 4`` keeps only the ratings a
user liked, as Mult-VAE, EASE and RecVAE prepared ML-20M, and a k-core drops users and
items with too few interactions to learn or test anything from. The threshold is
applied by the readers, which hold the rating column (`read_dataset`); the core here,
on the interactions that are left.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from movierec.checks import is_whole_number
from movierec.data.dataset import Dataset
from movierec.exceptions import ConfigError


@dataclass(frozen=True)
class DataFilter:
    """min_rating : keep ratings at or above it (None: every rating, and data sets
        without ratings); min_user_items, min_item_users : keep users with at least
        that many items and items with at least that many users, dropping again until
        both hold (0 or 1: no one is dropped)."""

    min_rating: float | None = None
    min_user_items: int = 0
    min_item_users: int = 0

    def __post_init__(self) -> None:
        if self.min_rating is not None and (isinstance(self.min_rating, bool) or not isinstance(
                self.min_rating, (int, float)) or not math.isfinite(self.min_rating)):
            raise ConfigError(f"min_rating (--min-rating) must be a finite number, got {self.min_rating!r}")
        for name in ("min_user_items", "min_item_users"):
            if not is_whole_number(getattr(self, name), 0):
                raise ConfigError(f"{name} (--{name.replace('_', '-')}) must be a whole number >= 0, "
                                  f"got {getattr(self, name)!r}")

    @property
    def active(self) -> bool:
        return self.min_rating is not None or self.min_user_items > 1 or self.min_item_users > 1


def keep_rated(interactions: pd.DataFrame, kept: np.ndarray | None, threshold: float | None
               ) -> tuple[pd.DataFrame, list[str]]:
    """The interactions whose rating reached `threshold` (`kept`, from the reader's
    `rating_mask`; None: all of them), and a note of what went, users and items left
    with no rating at all included (they leave the data set, and its submission)."""
    if kept is None:
        return interactions, []
    out = interactions[kept].reset_index(drop=True)
    gone = [f"{before - after:,} {what}{'s' if before - after > 1 else ''}" for what in ("user", "item")
            if (before := interactions[what].nunique()) > (after := out[what].nunique())]
    return out, [f"kept the {len(out):,} of {len(interactions):,} ratings at or above {threshold:g} (min_rating) as "
                 f"positives" + (f"; {' and '.join(gone)} have none left" if gone else "")]


def read_filtered(path, data_filter: DataFilter) -> Dataset:
    """A data set as `data_filter` keeps it: the reader's rating threshold, then the core."""
    from movierec.data.readers import read_dataset

    dataset = read_dataset(path, min_rating=data_filter.min_rating)
    return k_core(dataset, data_filter.min_user_items, data_filter.min_item_users)


def k_core(dataset: Dataset, min_user_items: int, min_item_users: int) -> Dataset:
    """`dataset` with the users of fewer than `min_user_items` items and the items of
    fewer than `min_item_users` users dropped, repeatedly: dropping an item can leave a
    user below the bar, and the other way round. A note counts what went."""
    if min_user_items <= 1 and min_item_users <= 1:
        return dataset
    frame = dataset.interactions
    users, n_users = _codes(frame["user"])
    items, n_items = _codes(frame["item"])
    keep = np.ones(len(frame), dtype=bool)
    rounds = 0  # of dropping
    while True:
        per_user = np.bincount(users[keep], minlength=n_users)
        per_item = np.bincount(items[keep], minlength=n_items)
        below = keep & ((per_user[users] < min_user_items) | (per_item[items] < min_item_users))
        if not below.any():
            break
        keep &= ~below
        rounds += 1
    bars = [f"{what} with at least {bar} {of}" for what, bar, of in (("users", min_user_items, "items"),
                                                                      ("items", min_item_users, "users")) if bar > 1]
    if not keep.any():
        raise ConfigError(f"{dataset.name}: no interaction is left in the core of {' and '.join(bars)}; lower the bar")
    if keep.all():
        return dataset
    dropped_users = n_users - len(np.unique(users[keep]))
    dropped_items = n_items - len(np.unique(items[keep]))
    note = (f"k-core ({' and '.join(bars)}; {rounds} round{'s' if rounds > 1 else ''} of dropping): dropped "
            f"{int((~keep).sum()):,} of {len(frame):,} interactions, {dropped_users:,} users and {dropped_items:,} items")
    return dataclasses.replace(dataset, interactions=frame[keep].reset_index(drop=True),
                               notes=[*dataset.notes, note])


def _codes(ids: pd.Series) -> tuple[np.ndarray, int]:
    codes, unique = pd.factorize(ids)
    return codes, len(unique)
