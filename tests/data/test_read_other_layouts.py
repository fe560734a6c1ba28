"""The competition layout, RecBole atomic files and plain CSV.

Competition fixture (files as the competition documents them)::

    comp/
      train_ratings.csv   user,item,time                 (header, comma separated)
      genres.tsv          item<TAB>genre     several rows per item = multi-hot
      directors.tsv       item<TAB>director  e.g. nm0000229
      writers.tsv         item<TAB>writer
      years.tsv           item<TAB>year      one row per item
      titles.tsv          item<TAB>title     "Heat (1995)"

RecBole fixture (atomic files, tab separated, ``name:type`` header)::

    tiny/
      tiny.inter   user_id:token  item_id:token  rating:float  timestamp:float
      tiny.item    item_id:token  movie_title:token_seq  release_year:token  class:token_seq
      tiny.user    user_id:token  age:token  gender:token
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from movierec.data.dataset import FieldKind
from movierec.data.readers import detect_layout, read_dataset
from movierec.exceptions import DataError


def _values(dataset, field: str, item) -> set[str]:
    frame = dataset.item_fields[field].values
    return set(frame.loc[frame["id"] == item, "value"])


# ---- competition -------------------------------------------------------------------


def write_competition(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "train_ratings.csv").write_text(
        "user,item,time\n11,4643,1230782529\n11,170,1230782534\n11,531,1230782539\n"
        "14,4643,1225308476\n14,170,1225308476\n14,4643,1225309000\n"  # 14 saw 4643 twice
    )
    (folder / "genres.tsv").write_text(
        "item\tgenre\n4643\tAction\n4643\tAdventure\n4643\tDrama\n170\tAction\n170\tAction\n531\tChildren\n"
    )
    (folder / "directors.tsv").write_text("item\tdirector\n4643\tnm0000318\n170\tnm0000229\n")
    (folder / "writers.tsv").write_text("item\twriter\n4643\tnm0099541\n4643\tnm0115310\n")
    (folder / "years.tsv").write_text("item\tyear\n4643\t2001\n170\t1995\n531\t1993\n")
    (folder / "titles.tsv").write_text(
        "item\ttitle\n4643\tPlanet of the Apes (2001)\n170\tHackers (1995)\n531\t\"Secret Garden, The (1993)\"\n"
    )
    return folder


def test_competition_fixture(tmp_path):
    folder = write_competition(tmp_path / "comp")
    assert detect_layout(folder) == "competition"
    dataset = read_dataset(folder)
    frame = dataset.interactions
    assert len(frame) == 5
    assert frame.loc[(frame["user"] == 14) & (frame["item"] == 4643), "timestamp"].item() == 1225308476
    assert _values(dataset, "genre", 4643) == {"Action", "Adventure", "Drama"}
    assert _values(dataset, "genre", 170) == {"Action"}  # the repeated row counts once
    assert dataset.item_fields["genre"].kind is FieldKind.MULTI_HOT
    assert _values(dataset, "writer", 4643) == {"nm0099541", "nm0115310"}
    assert _values(dataset, "director", 531) == set()
    assert dataset.item_fields["year"].kind is FieldKind.ONE_HOT
    assert _values(dataset, "year", 170) == {"1995"}
    assert dataset.item_titles[531] == '"Secret Garden, The (1993)"'  # tsv: quotes are text


def test_competition_headers_in_another_case_read_the_same(tmp_path):
    lower = read_dataset(write_competition(tmp_path / "lower"))
    folder = write_competition(tmp_path / "upper")
    for path in [folder / "train_ratings.csv", *folder.glob("*.tsv")]:
        header, rest = path.read_text().split("\n", 1)
        path.write_text(header.title() + "\n" + rest)
    assert (folder / "train_ratings.csv").read_text().startswith("User,Item,Time\n")
    upper = read_dataset(folder)
    pd.testing.assert_frame_equal(upper.interactions, lower.interactions)
    assert _values(upper, "genre", 4643) == _values(lower, "genre", 4643)
    assert upper.item_titles[170] == "Hackers (1995)"


def test_competition_year_from_titles_when_years_tsv_is_absent(tmp_path):
    folder = write_competition(tmp_path / "comp")
    (folder / "years.tsv").unlink()
    dataset = read_dataset(folder)
    assert _values(dataset, "year", 4643) == {"2001"}
    assert _values(dataset, "year", 170) == {"1995"}


def test_competition_string_ids_stay_strings(tmp_path):
    folder = tmp_path / "comp"
    folder.mkdir()
    (folder / "train_ratings.csv").write_text("user,item,time\nu1,tt01,5\nu2,tt01,6\n")
    (folder / "genres.tsv").write_text("item\tgenre\ntt01\tDrama\n")
    dataset = read_dataset(folder)
    assert set(dataset.interactions["item"]) == {"tt01"}
    assert _values(dataset, "genre", "tt01") == {"Drama"}


def test_competition_side_ids_take_the_ratings_id_type(tmp_path):
    """Items "tt01" and "7" make the ratings' ids text; genres.tsv lists only "7",
    which alone would read as the integer 7 and match nothing."""
    folder = tmp_path / "comp"
    folder.mkdir()
    (folder / "train_ratings.csv").write_text("user,item,time\n1,tt01,5\n1,7,6\n")
    (folder / "genres.tsv").write_text("item\tgenre\n7\tDrama\n")
    (folder / "titles.tsv").write_text("item\ttitle\n7\tSeven\n")
    dataset = read_dataset(folder)
    assert _values(dataset, "genre", "7") == {"Drama"}
    assert dataset.item_titles["7"] == "Seven"  # titles take the ratings' id type too


# ---- RecBole -------------------------------------------------------------------------


@pytest.mark.realdata
def test_recbole_real_files_match_the_grouplens_files(data_dir):
    recbole = read_dataset(data_dir / "ml-100k-recbole")
    grouplens = read_dataset(data_dir / "ml-100k")
    columns = ["user", "item", "timestamp"]
    left = recbole.interactions.sort_values(columns).reset_index(drop=True)
    right = grouplens.interactions.sort_values(columns).reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)
    genres = recbole.item_fields["class"]
    assert genres.kind is FieldKind.MULTI_HOT
    assert _values(recbole, "class", 1) == {"Animation", "Children's", "Comedy"}
    assert len(genres.values) == len(grouplens.item_fields["genre"].values)
    assert _values(recbole, "release_year", 1) == {"1995"}
    assert recbole.item_titles[1] == "Toy Story"  # token_seq titles are kept for display only
    assert "movie_title" not in recbole.item_fields
    assert set(recbole.user_fields) >= {"age", "gender", "occupation"}


def write_recbole(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "tiny.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "1\t10\t4\t100\n1\t20\t2\t101\n2\t10\t5\t102.0\n3\t30\t1\t103\n"
    )
    (folder / "tiny.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "10\tToy Story\t1995\tAnimation Children's Comedy\n20\tHeat\t1995\tAction Crime\n"
        "30\tSe7en\t\tThriller\n"
    )
    (folder / "tiny.user").write_text("user_id:token\tage:token\tgender:token\n1\t24\tM\n2\t53\tF\n3\t23\tM\n")
    return folder


@pytest.mark.parametrize("point_at", ["folder", "inter file"])
def test_recbole_fixture(tmp_path, point_at):
    folder = write_recbole(tmp_path / "tiny")
    path = folder if point_at == "folder" else folder / "tiny.inter"
    assert detect_layout(path) == "recbole"
    dataset = read_dataset(path)
    assert dataset.name == "tiny"
    assert len(dataset.interactions) == 4
    assert dataset.interactions["timestamp"].tolist() == [100, 101, 102, 103]
    assert _values(dataset, "class", 10) == {"Animation", "Children's", "Comedy"}
    assert _values(dataset, "release_year", 30) == set()  # empty token: no value
    assert dataset.item_fields["release_year"].kind is FieldKind.ONE_HOT
    gender = dataset.user_fields["gender"].values
    assert gender.loc[gender["id"] == 2, "value"].item() == "F"


def test_recbole_without_timestamp_gets_zero_times(tmp_path):
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "t.inter").write_text("user_id:token\titem_id:token\n1\t2\n1\t3\n")
    dataset = read_dataset(folder)
    assert dataset.interactions["timestamp"].tolist() == [0, 0]
    assert dataset.item_fields == {}


# ---- plain CSV -------------------------------------------------------------------------


def test_plain_csv_with_and_without_time(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("user,item,timestamp\n1,5,30\n1,6,10\n2,5,20\n1,5,40\n")
    assert detect_layout(path) == "csv"
    dataset = read_dataset(path)
    assert dataset.name == "events"
    frame = dataset.interactions
    assert len(frame) == 3
    assert frame.loc[(frame["user"] == 1) & (frame["item"] == 5), "timestamp"].item() == 30
    no_time = tmp_path / "pairs.csv"
    no_time.write_text("user_id,movie_id\na,x\nb,x\na,y\n")
    frame = read_dataset(no_time).interactions
    assert frame["timestamp"].tolist() == [0, 0, 0]
    assert set(frame["user"]) == {"a", "b"}


def test_iso_dates_are_read_as_unix_seconds_and_a_stray_value_is_named(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("user,item,datetime\n1,10,2024-03-01 12:30:00\n1,11,2024-03-01T12:30:05+02:00\n2,10,2024-03-02\n")
    frame = read_dataset(path).interactions
    assert frame["timestamp"].tolist() == [1709289005, 1709296200, 1709337600]  # sorted by user, then time
    path.write_text("user,item,datetime\n1,10,2024-03-01 12:30:00\n1,11,yesterday\n")
    with pytest.raises(DataError, match=r"events.csv, line 3: column 'datetime' .* found 'yesterday'"):
        read_dataset(path)
    path.write_text("user,item,datetime\n1,10,1709296200\n1,11,2024-03-01\n")
    with pytest.raises(DataError, match=r"events.csv, line 3: column 'datetime' expects a 64-bit integer"):
        read_dataset(path)


def test_plain_tsv_and_case_insensitive_names(tmp_path):
    path = tmp_path / "events.tsv"
    path.write_text("UserId\tMovieId\tTime\n1\t2\t3\n")
    frame = read_dataset(path).interactions
    assert frame.iloc[0].tolist() == [1, 2, 3]


def test_utf8_bom_and_latin1_files(tmp_path):
    """A spreadsheet's UTF-8 BOM does not become part of the first column name, and a
    latin-1 file (GroupLens' older archives) is read without a decode error."""
    bom = tmp_path / "bom.csv"
    bom.write_bytes("user,item\n1,2\n".encode("utf-8-sig"))
    assert read_dataset(bom).interactions[["user", "item"]].values.tolist() == [[1, 2]]
    latin = tmp_path / "latin.csv"
    latin.write_bytes("user,item\nJosé,Amélie\n".encode("latin-1"))
    frame = read_dataset(latin).interactions
    assert frame[["user", "item"]].values.tolist() == [["José", "Amélie"]]
