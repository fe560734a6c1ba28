"""Lists for many users at once, a batch of users at a time, as one lean frame (user,
rank, item, score): known users of a run (all of them, or those named), or a table of
new users' histories scored by fold-in.

One user at a time goes through `LoadedRun.recommend` and `recommend_history`, which
add the catalogue's columns and explanations; these are for files of lists.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.checks import is_whole_number
from movierec.exceptions import ConfigError
from movierec.ranking import top_unseen
from movierec.serving.histories import BatchRecommendations, as_id_list, history_rows

LIST_COLUMNS = ["user", "rank", "item", "score"]


class BatchScoring:
    """The batch methods of :class:`movierec.serving.loaded.LoadedRun` (a mixin: they read
    its models, catalogue, known items and locks)."""

    def recommend_users(self, user_ids=None, k: int = 10, model: str | None = None, *, exclude_seen: bool = True,
                        batch_size: int = 1024) -> pd.DataFrame:
        """Top-k for known users (None: every user of the run), in the order given: the
        lists `recommend` gives them (for the run's test users, those it wrote).

        Raises
        ------
        UnknownUser
            For an id the run did not see.
        """
        self._check_k(k)
        _check_batch(batch_size)
        name = self.default_model() if model is None else model
        fitted = self.model(name)
        users = np.arange(self.n_users) if user_ids is None else np.array(
            [self.user_index(user) for user in as_id_list(user_ids)], dtype=np.int64)

        def score(block: slice) -> np.ndarray:
            with self._locks[name]:
                return np.array(fitted.score(users[block]), dtype=np.float32)

        seen = self.known[users] if exclude_seen else None
        rows, ranks, items, scores, _ = _ranked(len(users), score, seen, k, batch_size, spread=False)
        return pd.DataFrame({"user": self.users[users[rows]], "rank": ranks, "item": self.items[items],
                             "score": scores}, columns=LIST_COLUMNS)

    def recommend_histories(self, interactions: pd.DataFrame, k: int = 10, model: str | None = None, *,
                            exclude_seen: bool = True, batch_size: int = 1024) -> BatchRecommendations:
        """Top-k for every user of a table of histories (columns user, item and optionally
        timestamp, as `movierec.read_dataset` reads a file), by fold-in.

        Each user is scored from the table's rows alone, known to the run or not, and gets
        the list that history alone gets (`recommend_history`). Items the run does not
        know are left out; a user the model scores every item alike for (no known item,
        or only items it learned nothing from) gets no list, where popularity lists
        everyone. The model is chosen as in `recommend_history`.
        """
        self._check_k(k)
        _check_batch(batch_size)
        name = self.history_model(model)
        fitted = self.fold_in_model(name)
        table = history_rows(self.items, interactions)

        def score(block: slice) -> np.ndarray:
            with self._locks[name]:
                return np.array(fitted.score_history(table.history[block], table.timestamps[block]), dtype=np.float32)

        seen = table.history if exclude_seen else None
        rows, ranks, items, scores, alike = _ranked(len(table.users), score, seen, k, batch_size)
        listed = ~alike[rows]  # a list by item index would pose as a recommendation
        lists = pd.DataFrame({"user": table.users[rows[listed]], "rank": ranks[listed], "item": self.items[items[listed]],
                              "score": scores[listed]}, columns=LIST_COLUMNS)
        return BatchRecommendations(lists, table.unknown_items.tolist(), table.unknown_rows,
                                    table.users[np.flatnonzero(alike)].tolist())


def _ranked(n: int, score: Callable[[slice], np.ndarray], seen: sp.csr_matrix | None, k: int, batch_size: int,
            *, spread: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The top k of `n` rows scored `batch_size` at a time, `seen` masked: (row, rank,
    item, score) of every listed slot, and (with `spread`) per row whether its scores
    were all alike."""
    parts, alike = [], np.zeros(n, dtype=bool)
    for start in range(0, n, batch_size):
        block = slice(start, min(start + batch_size, n))
        scores = score(block)
        if spread:
            alike[block] = alike_rows(scores)
        top, values = top_unseen(scores, seen[block] if seen is not None else None, k)
        row, rank = np.nonzero(top >= 0)  # the empty slots come last, so ranks stay 1, 2, ...
        parts.append((row + start, rank + 1, top[row, rank], values[row, rank]))
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), alike
    return (*(np.concatenate(column) for column in zip(*parts)), alike)


def alike_rows(scores: np.ndarray) -> np.ndarray:
    """Per row, whether its finite scores are all one value (or it has none): a list of
    such a row, by item index, would pose as a recommendation."""
    if np.isfinite(scores).all():
        return ~(scores.max(axis=1) > scores.min(axis=1))
    finite = np.isfinite(scores)  # NaN and infinities take no part in the spread
    return ~(np.where(finite, scores, -np.inf).max(axis=1) > np.where(finite, scores, np.inf).min(axis=1))


def _check_batch(batch_size: int) -> None:
    if not is_whole_number(batch_size, 1):
        raise ConfigError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
