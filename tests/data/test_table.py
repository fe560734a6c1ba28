"""read_table's two parsers agree: Arrow (fast path) and pandas (the careful one).

Each case is a small file with one quirk; both parsers must return the same frame
or raise the same DataError. For example (one file per line, / marks a newline)::

    quoted       movieId,title / 1,"Heat, The (1995)" / 2,"say ''hi''" (doubled quotes)
    crlf         user,item / 1,2 / 3,4        with CR LF line ends
    blank lines  user,item / 1,2 / / 3,4      (blank line: taken by the pandas path)
    short row    user,item,timestamp / 1,2,3 / 4,5
    latin-1      item|title / 1|Misérables    (not UTF-8)
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from movierec.data.readers import _table
from movierec.data.readers._table import read_table, to_int
from movierec.exceptions import DataError

CASES = {
    "plain": (b"user,item,timestamp\n1,2,3\n4,5,6\n", ",", None, True),
    "no final newline": (b"user,item\n1,2\n3,4", ",", None, True),
    "quoted commas and quotes": (b'movieId,title\n1,"Heat, The (1995)"\n2,"say ""hi"""\n', ",", None, True),
    "quoted newline": (b'movieId,title\n1,"two\nlines"\n2,x\n', ",", None, True),
    "quoted newline in integers": (b'user,item\n1,"2\n3"\n4,5\n', ",", None, True),
    "a literal quote, then one left open at the end": (b'user,item\n1,5\'2" tall\n2,"abc', ",", None, True),
    "quotes as text": (b'item\ttitle\n1\t"Secret Garden, The"\n2\tsay "hi"\n', "\t", None, False),
    "crlf": (b"user,item\r\n1,2\r\n3,4\r\n", ",", None, True),
    "bom": (b"\xef\xbb\xbfuser,item\n1,2\n", ",", None, True),
    "header only": (b"user,item\n", ",", None, True),
    "blank lines": (b"user,item\n1,2\n\n3,4\n\n", ",", None, True),
    "blank crlf lines": (b"user,item\r\n1,2\r\n\r\n3,4\r\n", ",", None, True),
    "blank line, one column": (b"item\n1\n\n2\n", ",", None, True),
    "leading blank line": (b"\nuser,item\n1,2\n", ",", None, True),
    "empty fields": (b"user,item,tag\n1,2,\n3,,x\n", ",", None, True),
    "spaces kept": (b"user,item\n 1 , 2\n", ",", None, True),
    "short row": (b"user,item,timestamp\n1,2,3\n4,5\n", ",", None, True),
    "long row": (b"user,item\n1,2\n3,4,5\n", ",", None, True),
    "latin-1": ("item|title\n1|Misérables\n".encode("latin-1"), "|", None, False),
    "dat with names": (b"1::10::5::100\n2::20::3::200\n", "::", ["user", "item", "rating", "timestamp"], False),
    "dat short row": (b"1::10::5::100\n2::20\n", "::", ["user", "item", "rating", "timestamp"], False),
    "repeated header": (b"user,user\n1,2\n", ",", None, True),
    "empty file": (b"", ",", None, True),
}


def _outcome(path, sep, names, quoting):
    try:
        frame = read_table(path, sep=sep, names=names, required=[], quoting=quoting)
    except DataError as error:
        return "error", str(error)
    return "frame", frame


@pytest.mark.parametrize("case", sorted(CASES))
def test_arrow_and_pandas_agree(tmp_path, monkeypatch, case):
    payload, sep, names, quoting = CASES[case]
    path = tmp_path / "table.txt"
    path.write_bytes(payload)
    fast = _outcome(path, sep, names, quoting)
    monkeypatch.setattr(_table, "USE_ARROW", False)
    careful = _outcome(path, sep, names, quoting)
    assert fast[0] == careful[0], (fast, careful)
    if fast[0] == "error":
        assert fast[1] == careful[1]
    else:
        pd.testing.assert_frame_equal(fast[1], careful[1])


@pytest.mark.parametrize("case", sorted(CASES))
def test_columns_parsed_as_integers_hold_what_to_int_reads_from_the_text(tmp_path, monkeypatch, case):
    payload, sep, names, quoting = CASES[case]
    path = tmp_path / "table.txt"
    path.write_bytes(payload)
    integers = ("user", "item", "rating", "timestamp", "movieId")
    try:
        fast = read_table(path, sep=sep, names=names, required=[], quoting=quoting, integers=integers)
    except DataError as error:
        fast = str(error)
    monkeypatch.setattr(_table, "USE_ARROW", False)
    careful = _outcome(path, sep, names, quoting)
    if isinstance(fast, str):
        assert careful == ("error", fast)
        return
    assert careful[0] == "frame"
    for column in fast.columns:
        if pd.api.types.is_integer_dtype(fast[column]):
            pd.testing.assert_series_equal(fast[column], to_int(careful[1], column))
        else:
            pd.testing.assert_series_equal(fast[column], careful[1][column])


@pytest.mark.parametrize("odd_row", ['1,"2\n3"', '5,"', '5,"7', '"5,7'], ids=["line break", "open", "unclosed",
                                                                            "mismatched"])
def test_a_quote_among_many_integers_is_read_as_pandas_reads_it(tmp_path, monkeypatch, odd_row):
    """Arrow parses a large file in blocks; a quote in a file of integers, wherever the
    blocks split it, must give what pandas gives (the same rows, or the same error),
    never a table with rows silently missing."""
    rows = [f"{user},{user % 97}" for user in range(300_000)]
    rows[123_457] = odd_row
    path = tmp_path / "ratings.csv"
    path.write_bytes(("user,item\n" + "\n".join(rows) + "\n").encode())
    try:
        fast = read_table(path, sep=",", required=["user", "item"], integers=("user", "item"))
    except DataError as error:
        fast = str(error)
    monkeypatch.setattr(_table, "USE_ARROW", False)
    careful = _outcome(path, ",", None, True)
    if isinstance(fast, str):
        assert careful == ("error", fast)
        return
    assert careful[0] == "frame" and len(fast) == len(careful[1])
    for column in fast.columns:
        expected = to_int(careful[1], column) if pd.api.types.is_integer_dtype(fast[column]) else careful[1][column]
        pd.testing.assert_series_equal(fast[column], expected)


def test_well_formed_files_take_the_arrow_path(tmp_path, monkeypatch):
    """Guard the fast path: a plain ratings file must not need pandas."""
    path = tmp_path / "ratings.csv"
    path.write_bytes(b'userId,movieId,rating,timestamp\n1,2,3.5,4\n5,"6",1,7\n')

    def refuse(*args, **kwargs):
        raise AssertionError("fell back to pandas")

    monkeypatch.setattr(_table, "_parse_pandas", refuse)
    frame = read_table(path, sep=",", required=["userId", "movieId"])
    assert frame["movieId"].tolist() == ["2", "6"]


def test_quoted_fields_and_values_are_text(tmp_path):
    path = tmp_path / "movies.csv"
    path.write_bytes(CASES["quoted commas and quotes"][0])
    frame = read_table(path, sep=",", required=["movieId", "title"])
    assert frame["title"].tolist() == ["Heat, The (1995)", 'say "hi"']
    assert frame["movieId"].tolist() == ["1", "2"]  # text: ids are normalised later


def test_integer_columns_are_numbers_only_where_every_value_is_a_plain_integer(tmp_path):
    """``integers`` spares the text column; a column with one odd value stays text for to_int."""
    path = tmp_path / "train_ratings.csv"
    path.write_bytes(b"user,item,time\n1,tt2,3\n4,tt5,6.0\n")
    frame = read_table(path, sep=",", required=["user", "item", "time"], integers=("user", "item", "time"))
    assert frame["user"].dtype == np.int64 and frame["user"].tolist() == [1, 4]
    assert frame["item"].tolist() == ["tt2", "tt5"]
    assert frame["time"].tolist() == ["3", "6.0"]
    assert to_int(frame, "time").tolist() == [3, 6]
    assert to_int(frame, "user").tolist() == [1, 4]


def test_a_leading_blank_line_is_named_and_extra_headerless_fields_pass_quietly(tmp_path):
    path = tmp_path / "table.txt"
    path.write_bytes(b"\nuser,item\n1,2\n")
    with pytest.raises(DataError, match=r"table.txt, line 1: blank; the header must be the file's first line"):
        read_table(path, sep=",", required=["user"])
    path.write_bytes(b"1\t2\t5\t100\textra\n3\t4\t1\t200\textra\n")  # u.data with a fifth field
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read_table(path, sep="\t", names=["user", "item", "rating", "timestamp"], required=["user"])
    assert frame["timestamp"].tolist() == ["100", "200"]
    assert not [w for w in caught if issubclass(w.category, pd.errors.ParserWarning)]
