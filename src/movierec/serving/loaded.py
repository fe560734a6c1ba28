"""A finished run, loaded for use: its models, its catalogue, raw ids in and out.

`load_run(folder)` reads what `movierec run` wrote (``models/*.pkl``, ``catalogue/``,
``metrics.json``); :class:`LoadedRun` answers "what should user 42 watch next?"
(:meth:`LoadedRun.recommend`), "what would you show someone who just watched
these films?" (:meth:`LoadedRun.recommend_history`, fold-in) and "what goes with this
film?" (:meth:`LoadedRun.similar_items`). Known users get
exactly the lists the run wrote to ``recommendations/<model>.csv``: the same model,
history and masking.

Models are pickles: load only run folders you (or your pipeline) wrote.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd

from movierec.checks import is_whole_number
from movierec.exceptions import ConfigError, DataError
from movierec.models.base import ExplainsScores, Recommender, folds_in
from movierec.output import CATALOGUE, read_catalogue, read_metrics
from movierec.ranking import top_unseen
from movierec.serving.batch import BatchScoring, alike_rows
from movierec.serving.errors import EmptyHistory, NoExplanation, NoFoldIn, UnknownItem, UnknownModel, UnknownUser
from movierec.serving.histories import HistoryRecommendations, as_id_list, history_row, id_like


class LoadedRun(BatchScoring):
    """The models and catalogue of one run folder.

    Parameters
    ----------
    folder : a folder written by `movierec run` with its models saved.

    Attributes
    ----------
    idmap : raw ids <-> indices of users and items, in the run's index order; `users`,
        `items` its two indexes.
    catalogue : per item, its raw id, title and side fields (DataFrame, index order).
    Lists for many users at once (every known user, a table of new ones): the methods
    of :class:`movierec.serving.batch.BatchScoring`.
    known : users x items, the items each known user is never recommended again.
    models : the names of the saved models; `best` the one best on validation.
    """

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        catalogue = self.folder / CATALOGUE
        if not self.folder.is_dir():
            raise DataError(f"{self.folder}: no such folder; give the --out folder of a `movierec run`")
        if not (catalogue / "items.csv").is_file():
            raise DataError(f"{self.folder}: not a run folder with saved models (no {CATALOGUE}/items.csv); "
                            "run `movierec run` with save_models = true")
        self.idmap, self.catalogue, self.known = read_catalogue(catalogue)
        metrics = read_metrics(self.folder)
        self.models = sorted(path.stem for path in (self.folder / "models").glob("*.pkl"))
        if not self.models:
            raise DataError(f"{self.folder}: no saved models in models/ (was the run made with "
                            "save_models = false?)")
        k = metrics.get("k", 10)
        self._valid = {name: metrics["models"].get(name, {}).get("valid", {}).get(f"recall@{k}", float("-inf"))
                       for name in self.models}
        self.best = metrics.get("best_model") or max(self.models, key=lambda name: self._valid[name])
        self._loaded: dict[str, Recommender] = {}
        self._locks = {name: threading.Lock() for name in self.models}
        self._load_lock = threading.Lock()

    def __getstate__(self) -> dict:
        """Pickled without its locks, which belong to one process (a run handed to worker
        processes, say); each copy makes its own."""
        state = self.__dict__.copy()
        del state["_locks"], state["_load_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._locks = {name: threading.Lock() for name in self.models}
        self._load_lock = threading.Lock()

    @property
    def users(self) -> pd.Index:
        return self.idmap.users

    @property
    def items(self) -> pd.Index:
        return self.idmap.items

    @property
    def n_users(self) -> int:
        return self.idmap.n_users

    @property
    def n_items(self) -> int:
        return self.idmap.n_items

    def model(self, name: str | None = None) -> Recommender:
        """A saved model by name (None: the run's best), loaded once."""
        if name is None and self.best not in self.models:  # never serve another model in its place
            raise DataError(f"{self.folder}: models/{self.best}.pkl, the run's best model (metrics.json), is "
                            f"missing; name one of {', '.join(self.models)}")
        name = self.best if name is None else name
        if name not in self.models:
            raise UnknownModel(f"model {name!r} is not in this run; it has {', '.join(self.models)}")
        with self._load_lock:
            if name not in self._loaded:
                model = Recommender.load(self.folder / "models" / f"{name}.pkl")
                if model.n_items != self.n_items:
                    raise DataError(f"{self.folder}: model {name!r} has {model.n_items} items, the catalogue "
                                    f"{self.n_items}; the run folder is not one run")
                self._loaded[name] = model
        return self._loaded[name]

    def default_model(self) -> str:
        """The run's best model, whose file must be there (see `model`)."""
        self.model(None)
        return self.best

    def can_fold_in(self, name: str | None = None) -> bool:
        return folds_in(self.model(name))

    @property
    def fold_in_models(self) -> list[str]:
        """The run's models that can score a new user's history."""
        return [name for name in self.models if self.can_fold_in(name)]

    def history_model(self, name: str | None = None) -> str:
        """The model a history is scored with: `name`, or the best on validation among
        those that can fold in (the run's best where none can, which then refuses)."""
        return (self.best_fold_in or self.default_model()) if name is None else name

    @property
    def best_fold_in(self) -> str | None:
        """The model best on validation among those that can fold in (None: none can);
        the run's best model must be there (see `model`), or a weaker one would stand in
        for it on histories alone."""
        self.default_model()
        able = self.fold_in_models
        return max(able, key=lambda name: self._valid[name]) if able else None

    # ---- known users -------------------------------------------------------------
    def user_index(self, user) -> int:
        """The index of a raw user id (an int or text id; "42" finds 42)."""
        position = self.users.get_indexer([id_like(user, self.users)])[0]
        if position < 0:
            raise UnknownUser(f"user {user!r} is not in this run; recommend from a history instead")
        return int(position)

    def recommend(self, user_ids, k: int = 10, model: str | None = None, *,
                  exclude_seen: bool = True, because: int = 0) -> pd.DataFrame:
        """Top-k for known users: columns user, rank, item, score and the catalogue's.

        With `because` > 0, a column ``because`` lists, per item, up to that many of
        the user's watched items that add most to its score, largest first (see
        :meth:`reasons`).

        Raises
        ------
        UnknownUser
            For an id the run did not see (nothing is returned for the others).
        NoExplanation
            With `because`, for a model whose scores are not sums over watched items.
        """
        users = np.array([self.user_index(user) for user in as_id_list(user_ids)], dtype=np.int64)
        name = self.default_model() if model is None else model
        self.check_because(because, name)
        items, scores = self.top_for_users(users, k, name, exclude_seen=exclude_seen)
        frames = []
        for user, row_items, row_scores in zip(users, items, scores):
            frame = self._frame(row_items, row_scores).assign(user=self.users[user])
            if because:
                frame["because"] = self._raw_lists(self.reasons(row_items, because, name, user_index=user))
            frames.append(frame)
        if not frames:  # no users asked for: the columns, no rows
            empty = self._frame(np.zeros(0, np.int64), np.zeros(0)).assign(user=self.users[:0])
            frames = [empty.assign(because=pd.Series([], dtype=object)) if because else empty]
        out = pd.concat(frames, ignore_index=True)
        return out[["user", *[c for c in out.columns if c != "user"]]]

    def top_for_users(self, users: np.ndarray, k: int, model: str | None = None, *,
                      exclude_seen: bool = True) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per user index, the item indices and scores of its top k (the fast path the service uses)."""
        self._check_k(k)
        name = self.default_model() if model is None else model
        fitted = self.model(name)
        with self._locks[name]:
            scores = np.array(fitted.score(users), dtype=np.float32)
        items, values = top_unseen(scores, self.known[users] if exclude_seen else None, k)
        keep = items >= 0
        return [row[mask] for row, mask in zip(items, keep)], [row[mask] for row, mask in zip(values, keep)]

    # ---- new users -----------------------------------------------------------------
    def recommend_history(self, item_ids, k: int = 10, model: str | None = None, *,
                          exclude_seen: bool = True, because: int = 0) -> HistoryRecommendations:
        """Top-k for someone who watched `item_ids` (oldest first), by fold-in.

        Ids the run does not know are left out and reported in `unknown_items`. The
        default model is the best on validation among those that can fold in. With
        `because` > 0, a column ``because`` as in :meth:`recommend`.

        Raises
        ------
        NoFoldIn
            When the model cannot score a history it was not fitted on.
        EmptyHistory
            When the model scores every item alike for the history (no id is in the
            catalogue, or the model learned nothing from those that are).
        NoExplanation
            With `because`, for a model whose scores are not sums over watched items.
        """
        item_ids = as_id_list(item_ids)  # read twice with `because`: an iterator would be spent by the first
        name = self.history_model(model)
        self.check_because(because, name)
        items, scores, unknown = self.top_for_history(item_ids, k, name, exclude_seen=exclude_seen)
        frame = self._frame(items, scores)
        if because:
            frame["because"] = self._raw_lists(self.reasons(items, because, name, history=item_ids))
        return HistoryRecommendations(frame, unknown)

    def top_for_history(self, item_ids, k: int, model: str | None = None, *,
                        exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray, list]:
        """The item indices and scores of a history's top k, and the ids left out (the service's path)."""
        self._check_k(k)
        name = self.history_model(model)
        fitted = self.fold_in_model(name)
        history, times, unknown = history_row(self.items, item_ids)
        with self._locks[name]:
            scores = np.array(fitted.score_history(history, times), dtype=np.float32)
        if alike_rows(scores)[0]:
            if not history.nnz:
                raise EmptyHistory(f"no item of the history is in the run's catalogue (unknown: "
                                   f"{', '.join(map(str, unknown)) or 'none given'}), and model {name!r} scores an "
                                   f"empty history all alike; give known item ids, or ask a model such as pop")
            held = self.items[history.indices].tolist()
            listed = ", ".join(map(str, held[:10])) + (f" and {len(held) - 10} more" if len(held) > 10 else "")
            raise EmptyHistory(f"model {name!r} scores every item alike for this history: it holds no weights for "
                               f"{listed} (items in no history "
                               f"it was fitted on, or outside the items it was fitted on); give other items, or ask "
                               f"a model such as pop")
        items, values = top_unseen(scores, history if exclude_seen else None, k)
        keep = items[0] >= 0
        return items[0][keep], values[0][keep], unknown

    def fold_in_model(self, name: str) -> Recommender:
        """The saved model `name`, refused (`NoFoldIn`) where it cannot score a history it was not fitted on."""
        fitted = self.model(name)
        if not folds_in(fitted):
            raise NoFoldIn(f"model {name!r} cannot score a new user from a history; "
                           f"fold-in models here: {', '.join(self.fold_in_models) or 'none'}")
        return fitted

    # ---- why ---------------------------------------------------------------------------
    def can_explain(self, name: str | None = None) -> bool:
        """Whether the model's scores are sums over the watched items (EASE, DLAE, iALS), so
        that `because` can name the items behind each recommendation."""
        return isinstance(self.model(name), ExplainsScores)

    def reasons(self, items: np.ndarray, n: int, model: str | None = None, *, user_index: int | None = None,
                history=None) -> list[np.ndarray]:
        """Per recommended item, the watched items that add most to its score.

        Parameters
        ----------
        items : item indices (of a list this run gave).
        n : at most this many per item, largest first; only those that add to the score.
        model : a model that can explain (`can_explain`); None: as `recommend` (a user) or
            `recommend_history` (a history) choose.
        user_index : a known user's index: the watched items are the history the model
            scores that user from (its training history, without refit).
        history : or raw item ids, oldest first, as given to `recommend_history`.

        Returns
        -------
        One array of watched item indices per item of `items`.
        """
        name = model if model is not None else (self.default_model() if user_index is not None
                                                else self.history_model())
        self.check_because(n, name)
        fitted = self.model(name)
        with self._locks[name]:
            if user_index is not None:
                watched, parts = fitted.contributions(np.asarray(items), user=int(user_index))
            else:
                rows, times, _ = history_row(self.items, history)
                watched, parts = fitted.contributions(np.asarray(items), history=rows, timestamps=times)
        order = np.argsort(-parts, axis=0, kind="stable")[:n]  # per item (column), its largest parts first
        return [watched[column_order][parts[column_order, column] > 0]
                for column, column_order in enumerate(order.T)]

    def check_because(self, n: int, name: str | None) -> None:
        """Refuse a `because` that is not a count, or one asked of a model that cannot explain (`NoExplanation`)."""
        if not is_whole_number(n, 0, None):
            raise ConfigError(f"because must be a whole number of watched items (0: none), got {n!r}")
        if n and not self.can_explain(name):
            able = [other for other in self.models if self.can_explain(other)]
            raise NoExplanation(f"model {name!r} cannot say which watched items led to a recommendation; "
                                f"models that can: {', '.join(able) or 'none'}")

    def _raw_lists(self, lists: list[np.ndarray]) -> list[list]:
        """Item indices as lists of the run's raw ids (plain Python values)."""
        return [self.items[indices].tolist() for indices in lists]

    # ---- items -------------------------------------------------------------------------
    def item_index(self, item) -> int:
        """The index of a raw item id (an int or text id; "50" finds 50)."""
        position = self.items.get_indexer([id_like(item, self.items)])[0]
        if position < 0:
            raise UnknownItem(f"item {item!r} is not in this run's catalogue")
        return int(position)

    def similar_items(self, item_id, k: int = 10, model: str | None = None) -> pd.DataFrame:
        """The k items a model shows someone who watched only `item_id` ("people who
        watched this also watched"): rank, item, score and the catalogue's columns.

        A fold-in of the one-item history, so every model that can score a history
        answers, each in its own terms: EASE with the item's row of its weight matrix, a
        sequence model with what is watched next, popularity with its one list. The
        default model is the best on validation among those that can fold in.

        Raises
        ------
        UnknownItem
            For an id the catalogue does not hold.
        NoFoldIn
            When the model cannot score a history it was not fitted on.
        EmptyHistory
            When the model learned nothing from the item (it is in no history the model
            was fitted on) and scores every other item alike.
        """
        items, scores = self.top_similar(item_id, k, model)
        return self._frame(items, scores)

    def top_similar(self, item_id, k: int, model: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The item indices and scores of the top k for a history of `item_id` alone (the service's path)."""
        item = self.items[self.item_index(item_id)]
        items, scores, _ = self.top_for_history([item], k, model)
        return items, scores

    # ---- shared --------------------------------------------------------------------
    def _frame(self, items: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
        """Ranked items as rank, item, score and the catalogue's columns."""
        frame = self.catalogue.iloc[items].reset_index(drop=True)
        frame.insert(0, "score", np.asarray(scores, dtype=np.float32))
        frame.insert(0, "rank", np.arange(1, len(frame) + 1))
        return frame[["rank", "item", "score", *[c for c in frame.columns if c not in ("rank", "item", "score")]]]

    def _check_k(self, k: int) -> None:
        if not is_whole_number(k, 1, self.n_items):
            raise ConfigError(f"k must be a whole number between 1 and the catalogue's {self.n_items} items, got {k!r}")


def load_run(folder: Path | str) -> LoadedRun:
    """The models and catalogue of a run folder (see :class:`LoadedRun`)."""
    return LoadedRun(folder)
