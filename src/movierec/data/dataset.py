"""The raw data set every reader returns: interactions plus named side fields, raw ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from movierec.data.interactions import sorted_by
from movierec.exceptions import DataError

INTERACTION_COLUMNS = ("user", "item", "timestamp")


class FieldKind(str, Enum):
    """How a side field maps an entity to values."""

    ONE_HOT = "one-hot"  # at most one value per entity (year, gender)
    MULTI_HOT = "multi-hot"  # any number of values per entity (genres, directors)


@dataclass(frozen=True)
class RawField:
    """A side-feature field in raw ids: rows of (id, value).

    Parameters
    ----------
    name : field name, e.g. ``"genre"``.
    kind : one-hot or multi-hot.
    values : DataFrame with columns ``id`` and ``value`` (both raw, value as str).
    """

    name: str
    kind: FieldKind
    values: pd.DataFrame

    def __post_init__(self) -> None:
        missing = {"id", "value"} - set(self.values.columns)
        if missing:
            raise DataError(f"field {self.name!r}: missing columns {sorted(missing)}")
        if self.kind is FieldKind.ONE_HOT and self.values["id"].duplicated().any():
            dup = self.values.loc[self.values["id"].duplicated(), "id"].tolist()[0]  # 7, not np.int64(7)
            raise DataError(
                f"field {self.name!r} is one-hot but id {dup!r} has several values; "
                "declare it multi-hot"
            )


@dataclass(frozen=True)
class EventField:
    """A multi-hot item field derived from events, e.g. tags: (user, item, value) rows.

    Unlike a genre, a tag is an interaction: the user who tagged a film that the split
    hides from them would hand that film their own tag. So the field is never built
    from every event, only as seen from one training history (:meth:`as_seen_from`).

    Parameters
    ----------
    events : DataFrame with columns ``user``, ``item``, ``value`` (raw ids, value as str).
    min_items : values describing fewer items (in the events kept) are dropped.
    """

    name: str
    events: pd.DataFrame
    min_items: int = 1

    def __post_init__(self) -> None:
        missing = {"user", "item", "value"} - set(self.events.columns)
        if missing:
            raise DataError(f"event field {self.name!r}: missing columns {sorted(missing)}")

    def as_seen_from(self, history: pd.DataFrame, split_users: pd.Index) -> RawField:
        """The field built from the events a model fitted on `history` may see.

        An event counts when its (user, item) pair is an interaction of `history`, or
        when its user is not in the split at all (someone who only tagged: no hidden
        item of theirs exists). Events of split users on pairs outside `history`
        (hidden ones included) are left out.
        """
        pairs = history[["user", "item"]].drop_duplicates()
        merged = self.events.merge(pairs.assign(_known=True), on=["user", "item"], how="left")
        keep = merged["_known"].fillna(False).to_numpy(dtype=bool) | ~merged["user"].isin(split_users).to_numpy()
        frame = merged.loc[keep, ["item", "value"]].rename(columns={"item": "id"}).drop_duplicates()
        items_per_value = frame.groupby("value")["id"].transform("size")
        frame = frame[items_per_value >= self.min_items].reset_index(drop=True)
        return RawField(self.name, FieldKind.MULTI_HOT, frame)


@dataclass
class Dataset:
    """Interactions (every row a positive) and side fields, all in raw ids.

    ``interactions`` has columns ``user``, ``item``, ``timestamp`` (int64 seconds;
    0 where the source has no time). Duplicated (user, item) pairs are collapsed by
    :meth:`normalised`, keeping the earliest timestamp. ``item_events`` are fields
    derived from users' events (tags), built per training history, never as a whole.
    """

    name: str
    interactions: pd.DataFrame
    item_fields: dict[str, RawField] = field(default_factory=dict)
    user_fields: dict[str, RawField] = field(default_factory=dict)
    item_titles: pd.Series | None = None  # raw item id -> title, for reports only
    notes: list[str] = field(default_factory=list)  # counted skips, reported to the user
    item_events: dict[str, EventField] = field(default_factory=dict)

    def normalised(self) -> Dataset:
        """Collapse duplicate (user, item) pairs to their first occurrence in time.

        Side-field ids also take the interactions' id type: each file decides alone
        whether its ids are integers, so a side file listing only numeric-looking ids
        of a data set with text ids ("tt01") would otherwise match no item at all.
        """
        item_fields = _ids_like(self.item_fields, self.interactions["item"])
        user_fields = _ids_like(self.user_fields, self.interactions["user"])
        frame = self.interactions
        before = len(frame)
        frame = sorted_by(frame, ["user", "timestamp"])
        frame = frame[~_repeated_pairs(frame)].reset_index(drop=True)
        notes = list(self.notes)
        if len(frame) < before:
            notes.append(f"collapsed {before - len(frame)} duplicate (user, item) rows")
        notes += [note for column in ("user", "item") if (note := _text_ids_note(frame[column], column))]
        events = {name: EventField(name, _events_like(ev.events, self.interactions), ev.min_items)
                  for name, ev in self.item_events.items()}
        titles = self.item_titles
        if titles is not None and pd.api.types.is_integer_dtype(titles.index) \
                and not pd.api.types.is_integer_dtype(frame["item"]):  # the items' id type, as the side fields
            titles = titles.set_axis(titles.index.astype(str).astype(object))
        return Dataset(self.name, frame, item_fields, user_fields, titles, notes, events)

    @property
    def n_interactions(self) -> int:
        return len(self.interactions)

    def summary(self) -> dict[str, int | str]:
        frame = self.interactions
        return {
            "name": self.name,
            "users": int(frame["user"].nunique()),
            "items": int(frame["item"].nunique()),
            "interactions": len(frame),
            "item_fields": ", ".join(f"{f.name}({f.kind.value})" for f in self.item_fields.values()),
            "user_fields": ", ".join(f"{f.name}({f.kind.value})" for f in self.user_fields.values()),
            "item_event_fields": ", ".join(f"{f.name}(multi-hot, per training history)"
                                           for f in self.item_events.values()),
        }


def _text_ids_note(ids: pd.Series, column: str) -> str | None:
    """A note where a few ids that are not whole numbers made a column of numbers text.

    Ids are integers only where every one is (`normalise_ids`), so a single "abc" among
    numbers keeps the others as text too: "42" and " 42" are then two users.
    """
    if pd.api.types.is_integer_dtype(ids):
        return None
    unique = pd.Series(pd.unique(ids.to_numpy()), dtype=object).astype(str)
    whole = unique.str.fullmatch(INTEGER_TEXT)
    if not whole.any():
        return None
    if whole.all():  # digits only, yet text: an id past 64 bits, or ids given as text from Python
        past = [text for text in unique if abs(int(text.split(".")[0])) >= 2**63]
        return None if not past else (f"{column} ids are read as text: {past[0]!r} does not fit a 64-bit integer, "
                                      f"so every {column} id is matched as written")
    odd = unique[~whole]
    return (f"{column} ids are read as text: {len(odd)} of {len(unique)} are not whole numbers "
            f"(e.g. {odd.iloc[0]!r}), so every {column} id is matched as written")


def _repeated_pairs(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose (user, item) pair occurred on an earlier row.

    Integer ids whose product of ranges fits 63 bits are one integer key each (int32
    where it fits 31 bits: half the memory to sort); a stable sort of the keys puts each
    pair's rows together in row order (several times faster than pandas' hashing
    `duplicated` at millions of rows)."""
    user, item = frame["user"], frame["item"]
    if len(frame) and pd.api.types.is_integer_dtype(user) and pd.api.types.is_integer_dtype(item):
        key = _pair_keys(user.to_numpy(np.int64), item.to_numpy(np.int64))
        if key is not None:
            ordered = np.sort(key)  # no pair repeats (the usual case): a plain sort tells, faster
            if not (ordered[1:] == ordered[:-1]).any():
                return np.zeros(len(key), dtype=bool)
            del ordered
            order = np.argsort(key, kind="stable")
            repeated = np.zeros(len(key), dtype=bool)
            repeated[order[1:][key[order[1:]] == key[order[:-1]]]] = True
            return repeated
    return frame.duplicated(["user", "item"], keep="first").to_numpy()


def _pair_keys(u: np.ndarray, i: np.ndarray) -> np.ndarray | None:
    """``(u - min u) * span(i) + (i - min i)``: int32 where it fits 31 bits, int64 where
    63, None where not.

    Built in the key's own type and in place (no int64 temporaries where int32 does):
    the ids are cast first, and where they exceed int32 the cast wraps, but so does the
    subtraction, and a difference that fits comes out right in two's complement.
    """
    u_low, i_low = int(u.min()), int(i.min())
    u_span, i_span = int(u.max()) - u_low + 1, int(i.max()) - i_low + 1
    if u_span * i_span >= 2 ** 62:
        return None
    dtype = np.int32 if u_span * i_span < 2 ** 31 else np.int64
    key = u.astype(dtype)
    key -= np.int64(u_low).astype(dtype)
    key *= dtype(i_span)
    offset = i.astype(dtype)
    offset -= np.int64(i_low).astype(dtype)
    key += offset
    return key


def _ids_like(fields: dict[str, RawField], ids: pd.Series) -> dict[str, RawField]:
    """Fields whose integer ids are turned to text when `ids` are text."""
    if pd.api.types.is_integer_dtype(ids):
        return fields
    out = {}
    for name, raw in fields.items():
        if pd.api.types.is_integer_dtype(raw.values["id"]):
            raw = RawField(raw.name, raw.kind, raw.values.assign(id=raw.values["id"].astype(str).astype(object)))
        out[name] = raw
    return out


def _events_like(events: pd.DataFrame, interactions: pd.DataFrame) -> pd.DataFrame:
    """Events whose integer user and item ids are turned to text where the interactions' are text."""
    out = events
    for column in ("user", "item"):
        if not pd.api.types.is_integer_dtype(interactions[column]) and pd.api.types.is_integer_dtype(out[column]):
            out = out.assign(**{column: out[column].astype(str).astype(object)})
    return out


INTEGER_TEXT = r"-?[0-9]+(\.0*)?"  # an id written as an integer (ASCII digits; 42.0 from a float column)


def arrow_int64(values: pd.Series) -> pd.Series | None:
    """`values` (text) as int64 when every one is a plain integer like "42", else None.

    Arrow's cast is ~60x faster than ``pd.to_numeric`` on text; anything it refuses
    (spaces, "42.0", "tt01", empty) is left to the careful callers.
    """
    try:
        cast = pc.cast(pa.array(values, from_pandas=True), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError):
        return None
    if cast.null_count:
        return None
    return pd.Series(cast.to_numpy(), index=values.index, name=values.name)


def normalise_ids(values: pd.Series) -> pd.Series:
    """Raw ids as int64 when every id is an integer, else as str.

    One rule for every reader keeps ids comparable across files (a split written as
    CSV and read back must match the data set it came from). An integer is written in
    ASCII digits (``42``, ``-7``, ``007`` read as 7, or ``42.0`` from a float column) and
    fits 64 bits; ``1e1``, ``+5`` or a 20-digit id keep every id of the column as text,
    so such an id never becomes another id's number.
    """
    if pd.api.types.is_integer_dtype(values):
        if pd.api.types.is_unsigned_integer_dtype(values) and len(values) and values.max() > np.iinfo(np.int64).max:
            return values.astype(str).astype(object)  # past int64: text, not a wrapped negative number
        if not values.hasnans:
            return values.astype(np.int64)
    fast = arrow_int64(values)
    if fast is not None:
        return fast
    as_text = values.astype(str).str.strip()
    codes, unique = pd.factorize(as_text)  # the checks on each distinct id once
    unique = pd.Series(unique, dtype=object)
    if len(unique) and (codes >= 0).all() and unique.str.fullmatch(INTEGER_TEXT).all():  # -1: a missing id
        whole = arrow_int64(unique.str.replace(r"\.0*$", "", regex=True))  # None past int64's range
        if whole is not None:
            return pd.Series(whole.to_numpy()[codes], index=values.index, name=values.name)
    return as_text.astype(object)


def interactions_frame(user: pd.Series, item: pd.Series, timestamp: pd.Series | None) -> pd.DataFrame:
    """The canonical interaction frame: normalised ids, int64 timestamps."""
    ts = pd.Series(np.zeros(len(user), dtype=np.int64)) if timestamp is None else timestamp
    return pd.DataFrame(
        {
            "user": normalise_ids(user.reset_index(drop=True)),
            "item": normalise_ids(item.reset_index(drop=True)),
            "timestamp": pd.Series(ts).reset_index(drop=True).astype(np.int64),
        },
        copy=False,  # a block per column: stacking the int64 columns into one 2-D block would copy them all
    )
