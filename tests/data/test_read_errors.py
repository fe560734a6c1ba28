"""Malformed input: every error is a DataError naming the file and, where there is one, the line.

Each test writes the smallest broken file of its layout, e.g. an ml-1m folder whose
``ratings.dat`` line 3 has five fields::

    1::1193::5::978300760        line 1
    1::661::3::978302109         line 2
    2::1193::4::978298413::9     line 3  <- one field too many
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from movierec.data.readers import read_dataset
from movierec.exceptions import DataError


def _raises(path: Path, *fragments: str) -> str:
    with pytest.raises(DataError) as caught:
        read_dataset(path)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def _folder(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for name, text in files.items():
        (folder / name.replace("__", ".")).write_text(text)
    return folder


def test_dat_row_with_too_many_fields(tmp_path):
    folder = _folder(tmp_path, ratings__dat="1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413::9\n")
    message = _raises(folder, "ratings.dat", "line 3")
    assert re.search(r"5 fields where 4 are expected", message)


def test_dat_row_with_too_few_fields(tmp_path):
    folder = _folder(tmp_path, ratings__dat="1::1193::5::978300760\n1::661::3\n")
    _raises(folder, "ratings.dat", "line 2", "timestamp")


@pytest.mark.parametrize("text, line", [
    ('user,item,timestamp\n1,10,100\n2,"10,300\n3,4,5\n', 3),
    ('user,item,timestamp\n1,10,100\n\n2,5,6\n2,"10,300\n3,4,5\n', 5),  # a blank line counts
    ('user,item,timestamp\n1,"1\n0",100\n2,5,6\n2,"10,300\n', 5),  # so does a quoted line break
])
def test_csv_quote_never_closed_names_its_line(tmp_path, text, line):
    path = tmp_path / "quoted.csv"
    path.write_text(text)
    _raises(path, "quoted.csv", f"line {line}:", "no quote closes")


def test_ml100k_non_integer_item(tmp_path):
    folder = _folder(tmp_path, u__data="1\t2\t3\t4\n1\tabc\t3\t5\n")
    _raises(folder, "u.data", "line 2", "'item'", "'abc'")


def test_ml100k_truncated_item_row(tmp_path):
    """u.item rows hold 5 fields and 19 genre flags; a cut-off row is not "no genre"."""
    flags = "|".join("0" * 19)
    folder = _folder(
        tmp_path,
        u__data="1\t1\t3\t4\n",
        u__item=f"1|Toy Story (1995)|01-Jan-1995||http://x|{flags}\n2|GoldenEye (1995)|01-Jan-1995||http://y|0|1\n",
    )
    _raises(folder, "u.item", "line 2", "is empty")


def test_ml100k_genre_flag_that_is_not_a_number(tmp_path):
    flags = "|".join(["0"] * 18 + ["y"])
    folder = _folder(tmp_path, u__data="1\t1\t3\t4\n", u__item=f"1|Toy Story (1995)|01-Jan-1995||http://x|{flags}\n")
    _raises(folder, "u.item", "line 1", "'Western'", "'y'")


def test_ml1m_truncated_movie_row(tmp_path):
    folder = _folder(tmp_path, ratings__dat="1::1::5::978300760\n",
                     movies__dat="1::Toy Story (1995)::Animation\n2::Jumanji (1995)\n")
    _raises(folder, "movies.dat", "line 2", "'genres' is empty")


def test_ml1m_truncated_user_row(tmp_path):
    folder = _folder(tmp_path, ratings__dat="1::1::5::978300760\n", users__dat="1::F::1::10::48067\n2::M\n")
    _raises(folder, "users.dat", "line 2", "is empty")


def test_line_numbers_count_blank_lines(tmp_path):
    """A blank line 3 is skipped, and the bad row after it is still reported as line 5."""
    path = tmp_path / "events.csv"
    path.write_text("user,item,timestamp\n1,2,3\n\n4,5,6\n4,6,soon\n\n")
    _raises(path, "events.csv", "line 5", "'soon'")


def test_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("user,item,timestamp\n1,2,3\n\n4,5,6\n\n")
    assert len(read_dataset(path).interactions) == 2


def test_csv_layout_missing_column(tmp_path):
    folder = _folder(tmp_path, ratings__csv="userId,movieId,rating\n1,2,3.0\n")
    _raises(folder, "ratings.csv", "missing column", "timestamp")


def test_csv_layout_empty_user(tmp_path):
    folder = _folder(tmp_path, ratings__csv="userId,movieId,rating,timestamp\n1,2,3,4\n,2,3,4\n")
    _raises(folder, "ratings.csv", "line 3", "'userId' is empty")


def test_the_first_empty_field_is_named_whichever_its_column(tmp_path):
    folder = _folder(tmp_path, ratings__csv="userId,movieId,rating,timestamp\n1,2,3,4\n1,,3,5\n,2,3,6\n")
    _raises(folder, "ratings.csv", "line 3", "'movieId' is empty")


def test_movies_csv_with_a_bad_id(tmp_path):
    folder = _folder(
        tmp_path,
        ratings__csv="userId,movieId,rating,timestamp\n1,2,3,4\n",
        movies__csv='movieId,title,genres\n2,"Heat, Part 1 (1995)",Action\nx2,Oops (1990),Drama\n',
    )
    _raises(folder, "movies.csv", "line 3", "'movieId'")


def test_competition_ratings_without_time_column(tmp_path):
    folder = _folder(tmp_path, train_ratings__csv="user,item\n1,2\n")
    _raises(folder, "train_ratings.csv", "missing column", "time")


@pytest.mark.parametrize("time, fragment", [
    ("", "'time' is empty"), ("12:00", "expects a 64-bit integer, found '12:00'"),
    ("99999999999999999999", "found '99999999999999999999'"),  # beyond int64: an error, not a wrapped number
    ("1e30", "found '1e30'"), ("inf", "found 'inf'"), (" -inf", "found ' -inf'"),
    ("18446744073709551615", "found '18446744073709551615'"),  # uint64's largest
])
def test_competition_ratings_with_a_bad_time(tmp_path, time, fragment):
    folder = _folder(tmp_path, train_ratings__csv=f"user,item,time\n1,2,3\n1,4,{time}\n")
    _raises(folder, "train_ratings.csv", "line 3", fragment)


def test_the_largest_int64_times_are_read_exactly_on_the_careful_path(tmp_path):
    """A space sends the column through pandas' parser; int64's extremes stay exact there."""
    folder = _folder(tmp_path, train_ratings__csv="user,item,time\n1,2, 9223372036854775807\n1,3,-9223372036854775808\n")
    times = read_dataset(folder).interactions["timestamp"].tolist()
    assert sorted(times) == [-2**63, 2**63 - 1]


def test_competition_side_row_without_value(tmp_path):
    folder = _folder(
        tmp_path,
        train_ratings__csv="user,item,time\n1,2,3\n",
        genres__tsv="item\tgenre\n2\tDrama\n2\n",
    )
    _raises(folder, "genres.tsv", "line 3", "no genre")


def test_competition_side_row_with_extra_field(tmp_path):
    folder = _folder(
        tmp_path,
        train_ratings__csv="user,item,time\n1,2,3\n",
        directors__tsv="item\tdirector\n2\tnm1\n2\tnm2\tnm3\n",
    )
    _raises(folder, "directors.tsv", "line 3")


def test_competition_two_years_for_one_item(tmp_path):
    folder = _folder(
        tmp_path,
        train_ratings__csv="user,item,time\n1,2,3\n",
        years__tsv="item\tyear\n2\t1995\n3\t1990\n2\t1995\n2\t1996\n",
    )
    _raises(folder, "years.tsv", "line 5", "item '2'", "'1996'")


@pytest.mark.parametrize("year", ["nineteen", "1959.5", "-3"])
def test_competition_year_that_is_not_a_whole_number(tmp_path, year):
    folder = _folder(tmp_path, train_ratings__csv="user,item,time\n1,2,3\n",
                     years__tsv=f"item\tyear\n2\t1995\n3\t{year}\n")
    _raises(folder, "years.tsv", "line 3", "item '3'", f"year {year!r}", "whole number")


def test_competition_year_written_from_a_float_column_is_the_same_year(tmp_path):
    folder = _folder(tmp_path, train_ratings__csv="user,item,time\n1,2,3\n",
                     years__tsv="item\tyear\n2\t1995\n3\t1959.0\n")
    assert read_dataset(folder).item_fields["year"].values["value"].tolist() == ["1995", "1959"]


def test_competition_side_file_with_one_column(tmp_path):
    folder = _folder(tmp_path, train_ratings__csv="user,item,time\n1,2,3\n", writers__tsv="item\n2\n")
    _raises(folder, "writers.tsv", "line 1", "two columns")


def test_recbole_header_without_types(tmp_path):
    folder = _folder(tmp_path, x__inter="user_id\titem_id\n1\t2\n")
    _raises(folder, "x.inter", "line 1", "name:type")


def test_recbole_header_with_a_repeated_column(tmp_path):
    folder = _folder(tmp_path, x__inter="user_id:token\titem_id:token\titem_id:token\n1\t2\t3\n")
    _raises(folder, "x.inter", "line 1", "'item_id' appears twice")


def test_recbole_without_item_column(tmp_path):
    folder = _folder(tmp_path, x__inter="user_id:token\tmovie:token\n1\t2\n")
    _raises(folder, "x.inter", "line 1", "item_id")


def test_recbole_side_file_without_id_column(tmp_path):
    folder = _folder(
        tmp_path,
        x__inter="user_id:token\titem_id:token\n1\t2\n",
        x__item="movie_id:token\tclass:token_seq\n2\tDrama\n",
    )
    _raises(folder, "x.item", "line 1", "item_id")


def test_recbole_side_file_with_two_different_rows_for_one_id(tmp_path):
    folder = _folder(
        tmp_path,
        x__inter="user_id:token\titem_id:token\n1\t2\n1\t3\n",
        x__item="item_id:token\tyear:token\tclass:token_seq\n2\t1995\tDrama\n3\t1990\tComedy\n"
                "2\t1995\tDrama\n2\t2001\tDrama\n",
    )
    _raises(folder, "x.item", "line 5", "item_id '2'", "second row that differs")
    (folder / "x.item").write_text("item_id:token\tyear:token\tclass:token_seq\n2\t1995\tDrama Crime\n"
                                   "3\t1990\tComedy\n2\t1995\tDrama Crime\n")  # a repeated identical row: read
    fields = read_dataset(folder).item_fields
    assert sorted(fields["class"].values["value"]) == ["Comedy", "Crime", "Drama"]
    assert len(fields["year"].values) == 2


def test_recbole_malformed_row(tmp_path):
    folder = _folder(tmp_path, x__inter="user_id:token\titem_id:token\n1\t2\n1\t2\t3\n")
    _raises(folder, "x.inter", "line 3")


@pytest.mark.parametrize("payload, fragment", [
    (b"user;item;timestamp\n1;2;3\n", "the header holds ';'"),
    (b"\x1f\x8b\x08\x00compressed", "compressed file"),
])
def test_a_csv_in_another_separator_or_compressed_gets_a_hint(tmp_path, payload, fragment):
    path = tmp_path / "events.csv"
    path.write_bytes(payload)
    _raises(path, "events.csv", fragment)


def test_plain_csv_without_item_column(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("user,thing\n1,2\n")
    _raises(path, "events.csv", "line 1", "no item column")


def test_header_only_file_holds_no_interactions(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("user,item\n")
    _raises(path, "events.csv", "no interactions")


def test_empty_file(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("")
    _raises(path, "events.csv", "empty")


def test_folder_of_unknown_layout(tmp_path):
    folder = _folder(tmp_path, notes__txt="hello\n")
    _raises(folder, "no known layout", "u.data", "ratings.csv", "train_ratings.csv")


def test_missing_path(tmp_path):
    _raises(tmp_path / "nowhere", "nowhere", "no such file")


def test_two_inter_files_are_ambiguous(tmp_path):
    folder = _folder(tmp_path, a__inter="user_id:token\titem_id:token\n1\t2\n",
                     b__inter="user_id:token\titem_id:token\n1\t2\n")
    _raises(folder, "exactly one NAME.inter", "a.inter", "b.inter")


def test_a_file_mixing_utf8_and_latin1_names_the_line_of_the_odd_byte(tmp_path):
    """Read as latin-1, the UTF-8 "José" would silently become another user, "JosÃ©"."""
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(b"user,item\nJos\xc3\xa9,1\nAnn,2\nZo\xe9,1\n")
    with pytest.raises(DataError, match=r"mixed.csv, line 4: byte 0xe9 is not UTF-8, though line 2's accented text"):
        read_dataset(mixed)
    latin = tmp_path / "latin.csv"  # latin-1 throughout, "É»" pairing like UTF-8: read as latin-1
    latin.write_bytes(b"user,item\nZo\xe9,1\nAnn,\xabL'\xc9T\xc9\xbb\n")
    assert set(read_dataset(latin).interactions["user"]) == {"Zo\u00e9", "Ann"}
    assert "\u00abL'\u00c9T\u00c9\u00bb" in set(read_dataset(latin).interactions["item"])


@pytest.mark.parametrize("header, column", [("user,item,user", "user"), ("user,item, item", "item")])
def test_a_column_named_twice_in_the_header_is_an_error(tmp_path, header, column):
    """Also once the names' spaces are stripped; pandas renamed the second one silently."""
    twice = tmp_path / "twice.csv"
    twice.write_text(f"{header}\n1,2,3\n")
    with pytest.raises(DataError, match=rf"twice.csv, line 1: column '{column}' appears twice in the header"):
        read_dataset(twice)


@pytest.mark.parametrize("payload", [b"user,item,timestamp\r1,2,3\r4,5,6\r", b"user\r,item,timestamp\n1,2,3\n"])
def test_a_carriage_return_inside_the_header_line_is_an_error(tmp_path, payload):
    """Old Mac line endings (a bare \\r) made the header check raise Python's csv.Error."""
    path = tmp_path / "mac.csv"
    path.write_bytes(payload)
    _raises(path, "mac.csv, line 1", "carriage return", "old Mac line endings")
