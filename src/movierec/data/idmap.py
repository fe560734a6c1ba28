"""IdMap: the one place where raw user/item ids meet contiguous indices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from movierec.exceptions import DataError


@dataclass(frozen=True)
class IdMap:
    """Raw ids <-> contiguous indices for users and items.

    Indices follow sorted raw ids, so the same set of ids always gets the same
    indices whatever order the rows came in.

    Examples
    --------
    >>> m = IdMap.from_ids(pd.Series([7, 3, 7]), pd.Series(["b", "a", "c"]))
    >>> m.user_index(pd.Series([3, 7])).tolist()
    [0, 1]
    """

    users: pd.Index
    items: pd.Index

    @classmethod
    def from_ids(cls, users: pd.Series, items: pd.Series) -> IdMap:
        return cls(_sorted_index(users), _sorted_index(items))

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def user_index(self, raw: pd.Series | np.ndarray, *, what: str = "users") -> np.ndarray:
        return _lookup(self.users, raw, what)

    def item_index(self, raw: pd.Series | np.ndarray, *, what: str = "items") -> np.ndarray:
        return _lookup(self.items, raw, what)

    def raw_users(self, index: np.ndarray) -> np.ndarray:
        return self.users.to_numpy()[index]

    def raw_items(self, index: np.ndarray) -> np.ndarray:
        return self.items.to_numpy()[index]


def _sorted_index(values: pd.Series) -> pd.Index:
    unique = pd.unique(pd.Series(values))
    try:
        unique = np.sort(unique)
    except TypeError:  # mixed types cannot be ordered; keep them as text
        unique = np.sort(unique.astype(str))
    return pd.Index(unique)


def _lookup(index: pd.Index, raw: pd.Series | np.ndarray, what: str) -> np.ndarray:
    codes = index.get_indexer(pd.Series(raw).to_numpy())
    if (codes < 0).any():
        unknown = pd.Series(raw).to_numpy()[codes < 0]
        raise DataError(
            f"{len(unknown)} {what} are not in the id map (e.g. {unknown[:3].tolist()}); "
            "every id must appear in the data set the map was built from"
        )
    return codes.astype(np.int64)
