"""GroupLens layouts: ml-100k on the real files, ml-1m/10m/20m/25m/latest on fixtures.

The fixtures follow each archive's README (files.grouplens.org/datasets/movielens)::

    ml-1m/                                 '::' separated, no header
      ratings.dat   UserID::MovieID::Rating::Timestamp
      movies.dat    MovieID::Title::Genres          (latin-1: "Misérables")
      users.dat     UserID::Gender::Age::Occupation::Zip-code
    ml-10M100K/                            '::' separated, half-star ratings
      ratings.dat   UserID::MovieID::Rating::Timestamp
      movies.dat    MovieID::Title::Genres
      tags.dat      UserID::MovieID::Tag::Timestamp      (an empty tag is skipped)
    ml-25m/ (also ml-20m, ml-latest, ml-latest-small)   CSV with a header
      ratings.csv   userId,movieId,rating,timestamp
      movies.csv    movieId,title,genres             ("American President, The (1995)")
      tags.csv      userId,movieId,tag,timestamp
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from movierec.data.dataset import FieldKind
from movierec.data.readers import detect_layout, read_dataset


def _values(dataset, field: str, item) -> set[str]:
    frame = dataset.item_fields[field].values
    return set(frame.loc[frame["id"] == item, "value"])


def _user_value(dataset, field: str, user) -> str:
    frame = dataset.user_fields[field].values
    return frame.loc[frame["id"] == user, "value"].item()


# ---- ml-100k, real files -------------------------------------------------------


@pytest.mark.realdata
def test_ml100k_real_files(data_dir):
    folder = data_dir / "ml-100k"
    expected = "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"
    assert hashlib.sha256((folder / "u.data").read_bytes()).hexdigest() == expected
    assert detect_layout(folder) == "ml-100k"
    dataset = read_dataset(folder)
    frame = dataset.interactions
    assert (len(frame), frame["user"].nunique(), frame["item"].nunique()) == (100_000, 943, 1682)
    assert list(frame.columns) == ["user", "item", "timestamp"]
    assert all(str(t) == "int64" for t in frame.dtypes)
    assert not frame.duplicated(["user", "item"]).any()
    # u.data's first line is "196	242	3	881250949"
    assert frame.loc[(frame["user"] == 196) & (frame["item"] == 242), "timestamp"].item() == 881250949
    genre = dataset.item_fields["genre"]
    assert genre.kind is FieldKind.MULTI_HOT and genre.values["value"].nunique() == 19
    assert _values(dataset, "genre", 1) == {"Animation", "Children's", "Comedy"}  # Toy Story
    assert _values(dataset, "year", 1) == {"1995"}
    assert dataset.item_titles[1] == "Toy Story (1995)"
    # u.user line 1: "1|24|M|technician|85711"; ages are bucketed like ml-1m (24 -> 18)
    assert _user_value(dataset, "age", 1) == "18"
    assert _user_value(dataset, "gender", 1) == "M"
    assert _user_value(dataset, "occupation", 1) == "technician"
    assert dataset.notes == []


# ---- ml-1m fixture -----------------------------------------------------------------


def write_ml1m(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "ratings.dat").write_text(
        "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
        "2::3408::4::978298500\n1::661::4::978300000\n"  # user 1 rated 661 twice
    )
    (folder / "movies.dat").write_bytes(
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
        "3408::Misérables, Les (1995)::Drama|Musical\n".encode("latin-1")
    )
    (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    return folder


def test_ml1m_fixture(tmp_path):
    folder = write_ml1m(tmp_path / "ml-1m")
    assert detect_layout(folder) == "ml-dat"
    dataset = read_dataset(folder)
    assert dataset.name == "ml-1m"
    frame = dataset.interactions
    assert len(frame) == 4  # the repeated (1, 661) collapses, keeping the earliest time
    assert frame.loc[(frame["user"] == 1) & (frame["item"] == 661), "timestamp"].item() == 978300000
    assert any("collapsed 1 duplicate" in note for note in dataset.notes)
    assert _values(dataset, "genre", 661) == {"Animation", "Children's", "Musical"}
    assert _values(dataset, "year", 3408) == {"1995"}
    assert dataset.item_titles[3408] == "Misérables, Les (1995)"
    assert _user_value(dataset, "gender", 2) == "M"
    assert _user_value(dataset, "age", 2) == "56"
    assert _user_value(dataset, "occupation", 1) == "10"
    assert dataset.user_fields["age"].kind is FieldKind.ONE_HOT


# ---- ml-10m fixture ----------------------------------------------------------------


def write_ml10m(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "ratings.dat").write_text(
        "1::122::5::838985046\n1::185::4.5::838983525\n2::122::0.5::868245777\n"
        "2::292::3.5::868245920\n3::316::5::868244791\n"
    )
    (folder / "movies.dat").write_text(
        "122::Boomerang (1992)::Comedy|Romance\n185::Net, The (1995)::Action|Crime|Thriller\n"
        "292::Outbreak (1995)::Action|Drama|Sci-Fi|Thriller\n316::Stargate (1994)::Action|Adventure|Sci-Fi\n"
    )
    # "Sci-Fi" tags three movies (kept, case folded); "dull" only one (dropped as noise)
    (folder / "tags.dat").write_text(
        "15::185::Sci-Fi::1138537770\n20::292::sci-fi::1188263867\n"
        "20::316::SCI-FI ::1188263880\n21::122::dull::1188263900\n22::122::::1188263901\n"
    )
    return folder


def test_ml10m_fixture(tmp_path):
    folder = write_ml10m(tmp_path / "ml-10M100K")
    dataset = read_dataset(folder)
    frame = dataset.interactions
    assert len(frame) == 5 and set(frame["user"]) == {1, 2, 3}
    assert _values(dataset, "genre", 292) == {"Action", "Drama", "Sci-Fi", "Thriller"}
    tags = _seen_tags(dataset)
    assert set(tags["value"]) == {"sci-fi"}
    assert set(tags["id"]) == {185, 292, 316}
    assert dataset.user_fields == {} and "tag" not in dataset.item_fields  # tags are events


# ---- ml-20m / 25m / latest fixture -------------------------------------------------


def write_ml_csv(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,296,5.0,1147880044\n1,306,3.5,1147868817\n"
        "2,11,4.0,1147868828\n2,296,4.0,1147878820\n3,131,1.0,1147879000\n"
    )
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n"
        '11,"American President, The (1995)",Comedy|Drama|Romance\n'
        "131,Frankie Starlight (1995),Drama|Romance\n"
        "296,Pulp Fiction (1994),Comedy|Crime|Drama|Thriller\n"
        '306,"Three Colors: Red (Trois couleurs: Rouge) (1994)",Drama\n'
        "209171,Women of Devil's Island (1962),(no genres listed)\n"
    )
    (folder / "tags.csv").write_text(
        "userId,movieId,tag,timestamp\n"
        '3,131,"dark, funny",1439472355\n4,306,"dark, funny",1573943598\n'
        '4,11,"dark, funny",1573943599\n5,131,"quirky",1573943600\n5,11,,1573943601\n'
    )
    return folder


@pytest.mark.parametrize("name", ["ml-20m", "ml-25m", "ml-latest", "ml-latest-small"])
def test_ml_csv_fixture(tmp_path, name):
    folder = write_ml_csv(tmp_path / name)
    assert detect_layout(folder) == "ml-csv"
    dataset = read_dataset(folder)
    assert dataset.name == name
    assert len(dataset.interactions) == 5
    assert dataset.item_titles[11] == "American President, The (1995)"  # the comma stayed inside
    assert _values(dataset, "genre", 11) == {"Comedy", "Drama", "Romance"}
    assert _values(dataset, "genre", 209171) == set()  # "(no genres listed)" is no genre
    assert "(no genres listed)" not in set(dataset.item_fields["genre"].values["value"])
    assert _values(dataset, "year", 306) == {"1994"}
    assert _values(dataset, "year", 209171) == {"1962"}
    tags = _seen_tags(dataset)
    assert set(tags["value"]) == {"dark, funny"} and set(tags["id"]) == {11, 131, 306}
    assert set(dataset.item_events["tag"].events["user"]) == {3, 4, 5}


def test_ml_csv_without_side_files(tmp_path):
    folder = write_ml_csv(tmp_path / "ml-latest-small")
    (folder / "movies.csv").unlink()
    (folder / "tags.csv").unlink()
    dataset = read_dataset(folder)
    assert dataset.item_fields == {} and dataset.item_titles is None
    assert len(dataset.interactions) == 5


def _seen_tags(dataset):
    """The tag field as a model fitted on every interaction sees it (tags are events)."""
    users = pd.Index(dataset.interactions["user"].unique())
    return dataset.item_events["tag"].as_seen_from(dataset.interactions, users).values


def test_every_rating_is_a_positive(tmp_path):
    """Ratings of 0.5 and 1 are interactions like a 5: the reader drops the value."""
    dataset = read_dataset(write_ml_csv(tmp_path / "ml-25m"))
    assert (3, 131) in set(zip(dataset.interactions["user"], dataset.interactions["item"]))
    assert list(dataset.interactions.columns) == ["user", "item", "timestamp"]
