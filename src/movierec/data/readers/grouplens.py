"""GroupLens MovieLens layouts: ml-100k, ml-1m/10m (``::`` .dat), ml-20m/25m/latest (.csv).

Formats follow each archive's README at https://files.grouplens.org/datasets/movielens/.
Every rating is a positive, or with `min_rating` those at or above it
(:mod:`movierec.data.filters`); the rating value is then dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from movierec.data.dataset import Dataset, EventField, FieldKind, RawField, interactions_frame, normalise_ids
from movierec.data.filters import keep_rated
from movierec.data.readers._table import rating_mask, read_table, split_multi, to_int

NO_GENRE = "(no genres listed)"
# ml-1m's age codes; ml-100k's raw ages are bucketed the same way.
AGE_BUCKETS = (0, 18, 25, 35, 45, 50, 56)
# ml-20m/25m/latest tags are free text: keep those that describe several movies.
MIN_ITEMS_PER_TAG = 3


def read_ml100k(folder: Path, min_rating: float | None = None) -> Dataset:
    """ml-100k: ``u.data`` (tab), ``u.item`` (pipe, latin-1, 19 genre flags), ``u.user``."""
    ratings = read_table(
        folder / "u.data", sep="\t", names=["user", "item", "rating", "timestamp"],
        required=["user", "item", "timestamp"], integers=("user", "item", "timestamp"),
    )
    interactions, notes = keep_rated(interactions_frame(
        to_int(ratings, "user"), to_int(ratings, "item"), to_int(ratings, "timestamp")
    ), rating_mask(ratings, "rating", min_rating), min_rating)
    item_fields: dict[str, RawField] = {}
    titles = None
    if (folder / "u.item").is_file():
        genre_names = _ml100k_genres(folder)
        columns = ["item", "title", "release", "video_release", "url", *genre_names]
        items = read_table(
            # every genre flag is required: a truncated row must not pass as "no genre"
            folder / "u.item", sep="|", names=columns, required=["item", *genre_names],
            encodings=("latin-1",), quoting=False,
        )
        item_ids = to_int(items, "item")
        flags = np.column_stack([to_int(items, genre).to_numpy() for genre in genre_names])
        rows, cols = np.nonzero(flags > 0)
        genres = pd.DataFrame({"id": item_ids.to_numpy()[rows], "value": np.asarray(genre_names)[cols]})
        item_fields["genre"] = RawField("genre", FieldKind.MULTI_HOT, genres)
        year = items["release"].str.extract(r"(\d{4})$")[0]
        item_fields["year"] = _one_hot("year", item_ids, year)
        titles = pd.Series(items["title"].to_numpy(), index=item_ids.to_numpy())
    user_fields: dict[str, RawField] = {}
    if (folder / "u.user").is_file():
        users = read_table(
            folder / "u.user", sep="|", names=["user", "age", "gender", "occupation", "zip"],
            required=["user", "age", "gender", "occupation"], quoting=False,
        )
        user_ids = to_int(users, "user")
        ages = to_int(users, "age").to_numpy()
        bucket = np.asarray(AGE_BUCKETS)[np.searchsorted(AGE_BUCKETS, ages, side="right") - 1]
        user_fields["age"] = _one_hot("age", user_ids, pd.Series(bucket).astype(str))
        user_fields["gender"] = _one_hot("gender", user_ids, users["gender"])
        user_fields["occupation"] = _one_hot("occupation", user_ids, users["occupation"])
    return Dataset("ml-100k", interactions, item_fields, user_fields, titles, notes)


def _ml100k_genres(folder: Path) -> list[str]:
    path = folder / "u.genre"
    if path.is_file():
        table = read_table(path, sep="|", names=["genre", "index"], required=["genre"], quoting=False)
        table = table[table["genre"].str.strip() != ""]
        return table.sort_values("index", key=lambda s: s.astype(int))["genre"].tolist()
    return [  # the order documented in ml-100k's README
        "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
        "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
        "Romance", "Sci-Fi", "Thriller", "War", "Western",
    ]


def read_dat(folder: Path, name: str, min_rating: float | None = None) -> Dataset:
    """ml-1m and ml-10m: ``ratings.dat``, ``movies.dat``, ``users.dat``/``tags.dat``, ``::``."""
    ratings = read_table(
        folder / "ratings.dat", sep="::", names=["user", "item", "rating", "timestamp"],
        required=["user", "item", "timestamp"], quoting=False, integers=("user", "item", "timestamp"),
    )
    interactions, notes = keep_rated(interactions_frame(
        to_int(ratings, "user"), to_int(ratings, "item"), to_int(ratings, "timestamp")
    ), rating_mask(ratings, "rating", min_rating), min_rating)
    item_fields, titles = _movies(
        folder / "movies.dat", sep="::", names=["item", "title", "genres"]
    )
    user_fields: dict[str, RawField] = {}
    if (folder / "users.dat").is_file():
        users = read_table(
            folder / "users.dat", sep="::", names=["user", "gender", "age", "occupation", "zip"],
            required=["user", "gender", "age", "occupation"], quoting=False,
        )
        user_ids = to_int(users, "user")
        for column in ("age", "gender", "occupation"):
            user_fields[column] = _one_hot(column, user_ids, users[column])
    events = {}
    if (folder / "tags.dat").is_file():
        tags = read_table(
            folder / "tags.dat", sep="::", names=["user", "item", "tag", "timestamp"],
            required=["user", "item", "tag"], allow_empty=["tag"], quoting=False,
        )
        # free-text tags: an empty one is skipped by _tags, not an error
        events["tag"] = _tags(to_int(tags, "user"), to_int(tags, "item"), tags["tag"])
    return Dataset(name, interactions, item_fields, user_fields, titles, notes, item_events=events)


def read_csv_layout(folder: Path, name: str, min_rating: float | None = None) -> Dataset:
    """ml-20m/25m/latest(-small): ``ratings.csv``, ``movies.csv``, ``tags.csv`` with headers."""
    ratings = read_table(
        folder / "ratings.csv", sep=",", required=["userId", "movieId", "timestamp"],
        integers=("userId", "movieId", "timestamp"),
    )
    interactions, notes = keep_rated(interactions_frame(
        to_int(ratings, "userId"), to_int(ratings, "movieId"), to_int(ratings, "timestamp")
    ), rating_mask(ratings, "rating", min_rating), min_rating)
    item_fields, titles = _movies(folder / "movies.csv", sep=",", names=None)
    events = {}
    if (folder / "tags.csv").is_file():
        tags = read_table(folder / "tags.csv", sep=",", required=["userId", "movieId", "tag"], allow_empty=["tag"])
        events["tag"] = _tags(to_int(tags, "userId"), to_int(tags, "movieId"), tags["tag"])
    return Dataset(name, interactions, item_fields, {}, titles, notes, item_events=events)


def _movies(path: Path, *, sep: str, names: list[str] | None) -> tuple[dict[str, RawField], pd.Series | None]:
    """Genres (``a|b``) and the year inside the title, e.g. ``Heat (1995)``."""
    if not path.is_file():
        return {}, None
    if names is None:
        id_column = "movieId"  # errors name the column as the file spells it
        movies = read_table(path, sep=sep, required=[id_column, "title", "genres"])
    else:
        id_column = "item"
        movies = read_table(path, sep=sep, names=names, required=[id_column, "title", "genres"], quoting=False)
    item_ids = to_int(movies, id_column)
    genres = split_multi(item_ids, movies["genres"], "|")
    genres = genres[genres["value"] != NO_GENRE].reset_index(drop=True)
    year = movies["title"].str.strip().str.extract(r"\((\d{4})\)$")[0]
    fields = {
        "genre": RawField("genre", FieldKind.MULTI_HOT, genres),
        "year": _one_hot("year", item_ids, year),
    }
    return fields, pd.Series(movies["title"].to_numpy(), index=item_ids.to_numpy())


def _tags(user_ids: pd.Series, item_ids: pd.Series, tags: pd.Series) -> EventField:
    """Tag events (user, item, tag), lower-cased; empty tags skipped. Which of them a
    model sees depends on its training history (:meth:`EventField.as_seen_from`)."""
    frame = pd.DataFrame({"user": normalise_ids(user_ids).to_numpy(), "item": normalise_ids(item_ids).to_numpy(),
                          "value": tags.str.strip().str.lower().to_numpy()})
    frame = frame[frame["value"] != ""].drop_duplicates().reset_index(drop=True)
    return EventField("tag", frame, min_items=MIN_ITEMS_PER_TAG)


def _one_hot(name: str, ids: pd.Series, values: pd.Series) -> RawField:
    frame = pd.DataFrame({"id": normalise_ids(ids).to_numpy(), "value": values.to_numpy()})
    frame = frame[frame["value"].notna() & (frame["value"].astype(str).str.strip() != "")]
    frame = frame.drop_duplicates("id").reset_index(drop=True)
    frame["value"] = frame["value"].astype(str).str.strip()
    return RawField(name, FieldKind.ONE_HOT, frame)
