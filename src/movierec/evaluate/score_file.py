"""Score a recommendation file from any library against a split's test part."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.checks import is_whole_number
from movierec.data.idmap import IdMap
from movierec.data.interactions import users_with_items
from movierec.data.readers._table import line_of, read_table
from movierec.evaluate.evaluator import Evaluation, evaluate_lists
from movierec.exceptions import ConfigError, DataError


def read_lists(path: Path | str, idmap: IdMap, test: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Ranked lists of every user with items in `test` from a CSV ``user,item[,rank][,score]``
    (headers in any case).

    Order is `rank` when present, else `score` (highest first), else the file's order;
    ties keep the file's order. Items unknown to `idmap` are kept as misses (-1); users
    of the test part without a list get an empty one. Returns (users, items (n, k), notes).
    """
    path = Path(path)
    table = read_table(path, sep=",", required=["user", "item"], optional=("rank", "score"), fold_case=True)
    frame = pd.DataFrame({"user": _text(table["user"]), "item": _text(table["item"])})
    notes = []
    by = "rank" if "rank" in table else "score" if "score" in table else None
    if by is None:
        frame["order"] = np.arange(len(frame))
    else:
        values = pd.to_numeric(table[by], errors="coerce")
        if values.isna().any():
            line = line_of(table, int(np.flatnonzero(values.isna().to_numpy())[0]))
            raise DataError(f"{path}, line {line}: {by} is not a number")
        frame["order"] = values.to_numpy() if by == "rank" else -values.to_numpy()
        if by == "score":
            notes.append("no rank column: each user's list is ordered by score, highest first")
    frame["user_code"] = _codes(idmap.users, frame["user"])
    frame["item_code"] = _codes(idmap.items, frame["item"])
    users = users_with_items(test)
    row_of_user = np.full(idmap.n_users, -1)
    row_of_user[users] = np.arange(len(users))
    outside = (frame["user_code"] < 0).to_numpy()
    if outside.any():
        notes.append(f"ignored {int(outside.sum())} rows of users not in the split")
    untested = ~outside & (row_of_user[frame["user_code"].to_numpy()] < 0)
    if untested.any():  # users of the split whose items are all in train or valid: nothing to score them on
        notes.append(f"ignored {int(untested.sum())} rows of {frame.loc[untested, 'user_code'].nunique()} users "
                     "with no test items")
    frame = frame[~outside & ~untested].sort_values(["user_code", "order"], kind="stable")
    if by == "rank":  # 0, 1, 2 or 1, 2, 5 (rows removed after ranking): places are taken in rank order
        ranks, order = frame.groupby("user_code")["order"], frame["order"].to_numpy()  # ties as 1, 1, 3 or 1, 1, 2
        odd = frame.loc[(ranks.rank(method="min").to_numpy() != order) & (ranks.rank(method="dense").to_numpy() != order),
                        "user_code"].nunique()
        if odd:
            notes.append(f"{odd} users' ranks do not run 1, 2, 3, ...: their places are taken in rank order")
    # an item listed twice for a user would count as two hits (recall above 1)
    repeated = frame.duplicated(["user_code", "item"], keep="first")
    if repeated.any():
        notes.append(f"ignored {int(repeated.sum())} repeated (user, item) rows (the best-ranked one counts)")
        frame = frame[~repeated.to_numpy()]
    if by is not None:
        tied = frame.duplicated(["user_code", "order"], keep="first")
        if tied.any():  # the file's order settles them, which the ranks do not say
            notes.append(f"{int(tied.sum())} rows share a {by} with an earlier row of their user (file order "
                         "breaks the tie)")
    frame["position"] = frame.groupby("user_code").cumcount()
    longer = frame.loc[frame["position"] >= k, "user_code"].nunique()
    if longer:  # a list of 12 scored at k = 10: places 11 and 12 are not read
        notes.append(f"{longer} users' lists are longer than k = {k}: only their first {k} places are scored")
    frame = frame[frame["position"] < k]
    unknown = (frame["item_code"] < 0).to_numpy()
    if unknown.any():  # counted where they are scored: within the first k places of a test user
        notes.append(f"{int(unknown.sum())} rows recommend items not in the split ({frame.loc[unknown, 'item'].nunique()} "
                     "distinct items; counted as misses)")
    items = np.full((len(users), k), -1, dtype=np.int64)
    items[row_of_user[frame["user_code"].to_numpy()], frame["position"].to_numpy()] = frame["item_code"].to_numpy()
    missing = len(users) - frame["user_code"].nunique()
    if missing:
        notes.append(f"{missing} test users have no list (scored 0)")
    lengths = frame.groupby("user_code").size()
    if len(lengths) and (lengths < k).any():  # a k = 5 file scored at k = 10 loses half its places
        notes.append(f"{int((lengths < k).sum())} test users' lists are shorter than k = {k} (the longest holds "
                     f"{int(lengths.max())}): the missing places count as misses")
    return users, items, notes


def _text(ids: pd.Series) -> pd.Series:
    """Ids as the file writes them, without surrounding spaces."""
    return ids.astype(str).str.strip()


def _codes(index: pd.Index, ids: pd.Series) -> np.ndarray:
    """Positions of the file's text `ids` in `index` (-1 where absent).

    A split's ids are integers where every one of them is (`normalise_ids`): then each
    id written as a whole number finds its integer exactly (no float on the way), the
    others are absent; text ids are matched as written.
    """
    if pd.api.types.infer_dtype(index) != "integer":
        return index.get_indexer(ids.to_numpy())
    digits = ids.where(ids.str.fullmatch(r"[+-]?\d{1,18}"))  # 18 digits always fit int64
    decimal = digits.isna() & ids.str.endswith(".0")  # 1.0 (a float column's) is 1: the slower pattern, rarely
    if decimal.any():
        digits[decimal] = ids[decimal].str.extract(r"^([+-]?\d{1,18})\.0+$")[0]
    whole = digits.notna().to_numpy()
    codes = np.full(len(ids), -1, dtype=np.int64)
    codes[whole] = index.get_indexer(digits[whole].astype(np.int64).to_numpy())
    return codes


def score_file(path: Path | str, idmap: IdMap, test: sp.csr_matrix, k: int = 10) -> tuple[Evaluation, list[str]]:
    """Metrics of the lists in `path` against the hidden items `test` (users x items of `idmap`)."""
    if not is_whole_number(k, 1):
        raise ConfigError(f"k (--k) must be a whole number >= 1, got {k!r}")
    if k > idmap.n_items:
        raise ConfigError(f"k (--k) {k} exceeds the split's {idmap.n_items} items; give k between 1 and {idmap.n_items}")
    users, items, notes = read_lists(path, idmap, test, k)
    return evaluate_lists(items, test, users=users, k=k), notes
