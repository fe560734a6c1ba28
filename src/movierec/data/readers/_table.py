"""Reading delimited text with errors that name the file, line and column."""

from __future__ import annotations

import csv
import io
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from movierec.data.dataset import arrow_int64
from movierec.data.readers._bytes import FileBytes, refuse_mixed_encodings
from movierec.exceptions import DataError

# Parse with Arrow first (tests switch it off to check both parsers agree).
USE_ARROW = True


def read_table(
    path: Path,
    *,
    sep: str,
    names: list[str] | None = None,
    required: list[str],
    encodings: tuple[str, ...] = ("utf-8", "latin-1"),
    quoting: bool = True,
    allow_empty: tuple[str, ...] | list[str] = (),
    integers: tuple[str, ...] = (),
    fold_case: bool = False,
    optional: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Read a delimited file as text columns, checking the required columns.

    ``names`` given: the file has no header and these are its columns. Otherwise the
    first line is the header. Multi-character separators such as GroupLens' ``::``
    are rewritten to a tab first. Arrow parses well-formed files; anything it
    declines goes through pandas, which names the malformed line. Columns named in
    `integers` come back as int64 when every value in them is a plain integer (parsed
    as int64 by Arrow, or read as text and cast there when another column held
    Arrow back: no column of millions of Python strings is built); a column with one
    value that is not (``42.0``, empty) stays text, for :func:`to_int` to accept or
    to report with its line. With `fold_case`, a header written in another case
    (``User``) names the required (or `optional`) column it matches, and two headers
    that fold to one name are an error.

    Raises
    ------
    DataError
        The file is missing, a row has the wrong number of fields, or a required
        column is absent or empty (the message names the line); columns in
        `allow_empty` must exist but may hold empty values (free-text tags).
    """
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with FileBytes(path) as raw:
        if raw.head(4).startswith((b"\x1f\x8b", b"PK\x03\x04")):
            raise DataError(f"{path}: a compressed file (gzip or zip); unpack it and give the CSV it holds")
        if len(sep) > 1:
            # '::' never occurs inside a UTF-8 or latin-1 multi-byte character, so the
            # byte-wise rewrite is safe; both parsers need a one-character separator
            frame = _parse(FileBytes(path, raw.copy().replace(sep.encode("ascii"), b"\t")), path, "\t", names,
                           encodings, quoting, integers)
        else:
            frame = _parse(raw, path, sep, names, encodings, quoting, integers)
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.columns.duplicated().any():  # "item, item": one name once stripped
        raise DataError(f"{path}, line 1: column {frame.columns[frame.columns.duplicated()][0]!r} appears twice in the "
                        "header")
    if fold_case:
        wanted = {name.lower(): name for name in (*required, *optional)}
        frame.columns = [c if c in wanted.values() else wanted.get(c.lower(), c) for c in frame.columns]
        if frame.columns.duplicated().any():  # "User,user": which one is the user?
            raise DataError(f"{path}, line 1: column {frame.columns[frame.columns.duplicated()][0]!r} appears twice "
                            "(headers are read in any case)")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {missing}; found {list(frame.columns)}{separator_hint(frame.columns, sep)}"
        )
    header_lines = 0 if names is not None else 1
    if len(frame.columns) and (frame.iloc[:, 0] == "").any():
        blank = (frame == "").all(axis=1)
        frame = frame[~blank.to_numpy()]
    frame.attrs["path"] = str(path)
    frame.attrs["header_lines"] = header_lines
    check_filled(frame, [c for c in required if c not in allow_empty])
    return frame


def _parse(raw: FileBytes, path: Path, sep: str, names: list[str] | None, encodings: tuple[str, ...],
           quoting: bool, integers: tuple[str, ...]) -> pd.DataFrame:
    """Arrow's parse of `raw`, or pandas' where Arrow declines it."""
    frame = _parse_arrow(raw, sep, names, quoting, integers) if USE_ARROW else None
    return frame if frame is not None else _parse_pandas(raw, path, sep, names, encodings, quoting)


def separator_hint(columns, sep: str) -> str:
    """A hint for a header read as one column because the file uses another separator."""
    if len(columns) == 1:
        for other in (";", "\t", ",", "|"):
            if other != sep and other in str(columns[0]):
                return f" (the header holds {other!r}: is the file separated by it rather than {sep!r}?)"
    return ""


def check_filled(frame: pd.DataFrame, columns: list[str]) -> None:
    """Raise a DataError naming the first line where one of `columns` is empty (the
    earliest such line over all of them, then the first such column)."""
    empties = (((frame[column].str.strip() == "").to_numpy(), column) for column in columns
               if not pd.api.types.is_integer_dtype(frame[column]))  # parsed as numbers: no value was empty
    first = min(((int(empty.argmax()), column) for empty, column in empties if empty.any()),
                key=lambda found: found[0], default=None)
    if first is not None:
        raise DataError(f"{frame.attrs.get('path', '<table>')}, line {line_of(frame, first[0])}: column "
                        f"{first[1]!r} is empty")


def _parse_arrow(raw: FileBytes, sep: str, names: list[str] | None, quoting: bool,
                 integers: tuple[str, ...] = ()) -> pd.DataFrame | None:
    """Arrow's multi-threaded parser (3-8x pandas' on ratings files), or None.

    Columns in `integers` that hold plain integers only come back as int64.

    Blank lines come back as rows of empty fields, as from pandas, so the index stays
    the line's position when read_table drops them. None sends the file to
    :func:`_parse_pandas`, which accepts short rows, falls back to latin-1 and names a
    malformed row's line: anything unusual (a parse error, bytes that are not UTF-8,
    repeated header names, a leading blank line) takes that path, so both give the
    same frame or the same error.
    """
    if not len(raw) or raw.head(1) in (b"\n", b"\r"):
        return None
    try:
        if names is None:
            end = raw.find(b"\n")
            first = raw.head(end if end >= 0 else len(raw)).decode("utf-8").rstrip("\r")
            columns = next(csv.reader([first], delimiter=sep, quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE))
        else:
            columns = list(names)
        if not columns or len(set(columns)) != len(columns):
            return None
        numeric = [column for column in integers if column in columns]
        quoted = quoting and raw.find(b'"') >= 0
        table = _arrow_read(raw, sep, columns, names is not None, quoting, quoted, numeric) if numeric else None
        if table is None:  # a value that is not a plain integer: all text, then cast column by column
            table = _arrow_read(raw, sep, columns, names is not None, quoting, quoted, [])
            for column in numeric:
                table = _as_int64(table, column)
    except (pa.ArrowInvalid, UnicodeDecodeError, csv.Error, StopIteration):
        return None
    if quoted and _quote_may_be_open(raw, table):
        return None  # pandas reads quoted line breaks, and names the line of a quote no other closes
    return table.to_pandas(split_blocks=True)  # one block per column: no copy into a 2-D block


def _quote_may_be_open(raw: FileBytes, table: pa.Table) -> bool:
    """Whether a quote may open a field no quote closes, which Arrow reads to the end of
    the file without an error (pandas names its line): an odd count of quotes (doubled
    ones inside a field come in pairs), a quote on a last line with no line break after
    it (whose field may have nothing left to swallow), or a value holding a line break
    (what a field left open swallows; a well-quoted one is rare, and pandas reads it too)."""
    if raw.count(b'"') % 2 or b'"' in raw.last_line():
        return True
    return any(pc.any(pc.match_substring_regex(table[name], r"[\r\n]")).as_py()
               for name in table.column_names if pa.types.is_string(table.schema.field(name).type))


def _arrow_read(raw: FileBytes, sep: str, columns: list[str], headerless: bool, quoting: bool, quoted: bool,
                numeric: list[str]) -> pa.Table | None:
    """The file as an Arrow table, `numeric` columns parsed as int64 and the rest as text;
    `quoted` says the file holds a quote (then quoted line breaks are read as text, as
    pandas reads them).

    None when a `numeric` column holds anything else (or is empty somewhere); the
    file's own errors propagate when every column is text.
    """
    try:
        table = pacsv.read_csv(
            pa.BufferReader(raw.arrow()),  # Arrow reads the bytes in place (a BytesIO is copied through Python)
            read_options=pacsv.ReadOptions(column_names=columns, skip_rows=0 if headerless else 1, encoding="utf8"),
            parse_options=pacsv.ParseOptions(
                delimiter=sep,
                quote_char='"' if quoting else False,
                # even in a file of integers only: without it a quote left open lets Arrow's chunker
                # drop the rest of a block without an error
                newlines_in_values=quoted,
                ignore_empty_lines=False,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={column: pa.int64() if column in numeric else pa.string() for column in columns},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        if numeric:
            return None
        raise
    if any(table[column].null_count for column in numeric):
        return None
    return table


def _as_int64(table: pa.Table, column: str) -> pa.Table:
    """`table` with the text `column` cast to int64 when every value is a plain integer.

    Casting in Arrow spares building millions of Python strings for a column that is
    only ever used as numbers; a column with anything else stays text.
    """
    try:
        cast = pc.cast(table[column], pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return table
    return table.set_column(table.schema.get_field_index(column), column, cast)


def _parse_pandas(
    raw: FileBytes, path: Path, sep: str, names: list[str] | None, encodings: tuple[str, ...], quoting: bool
) -> pd.DataFrame:
    """pandas' C parser on bytes, decoding with each of `encodings` in turn.

    A headerless file with more fields than `names` keeps its first ones (pandas' own
    warning about it is not passed on to the user).
    """
    if names is None and raw.head(1) in (b"\n", b"\r"):
        raise DataError(f"{path}, line 1: blank; the header must be the file's first line")
    if names is None:  # pandas would rename the second "user" to "user.1" without a word
        end = raw.find(b"\n")
        first = raw.head(end if end >= 0 else len(raw)).decode(encodings[-1], errors="replace").rstrip("\r")
        if "\r" in first:
            raise DataError(f"{path}, line 1: a carriage return (\\r) inside the line; lines must end in \\n or "
                            "\\r\\n (a file saved with old Mac line endings ends them in \\r alone: convert it)")
        try:
            header = next(csv.reader([first], delimiter=sep, quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE),
                          [])
        except csv.Error as error:
            raise DataError(f"{path}, line 1: not a header line: {error}") from None
        named = [name.strip() for name in header if name.strip()]  # blank names (a trailing comma) are pandas'
        twice = sorted({name for name in named if named.count(name) > 1})
        if twice:
            raise DataError(f"{path}, line 1: column {twice[0]!r} appears twice in the header")
    for encoding in encodings:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", pd.errors.ParserWarning)
                return pd.read_csv(
                    io.BytesIO(raw.copy()),
                    encoding=encoding,
                    sep=sep,
                    header=None if names is not None else 0,
                    names=names,
                    dtype=str,
                    keep_default_na=False,
                    quoting=0 if quoting else 3,
                    engine="c",
                    index_col=False,
                    # blank lines are kept as rows (then dropped by read_table) so that the
                    # index stays the line's position and error messages name the right line
                    skip_blank_lines=False,
                )
        except UnicodeDecodeError:
            if encoding == "utf-8":
                refuse_mixed_encodings(raw.copy(), path)  # else the next encoding would garble the UTF-8 text
            continue
        except pd.errors.ParserError as error:
            counts = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
            if counts:
                expected, line, saw = counts.groups()
                raise DataError(f"{path}, line {line}: {saw} fields where {expected} are expected") from None
            if "EOF inside string" in str(error):
                raise DataError(f"{path}, line {_unclosed_quote_line(raw.copy())}: a quote (\") opens a field "
                                "that no quote closes before the end of the file") from None
            raise DataError(f"{path}: malformed row: {error}") from None
        except pd.errors.EmptyDataError:
            raise DataError(f"{path}: file is empty") from None
    raise DataError(f"{path}: not readable as any of {', '.join(encodings)}")


def first_clash(ids: pd.Series, rows: pd.DataFrame) -> int | None:
    """The first row whose id an earlier row had with other values (a repeated identical
    row is harmless), or None: what a side file giving one value per id must not hold."""
    clash = ids.duplicated(keep="first").to_numpy() & ~rows.duplicated(keep="first").to_numpy()
    return int(np.flatnonzero(clash)[0]) if clash.any() else None


def _unclosed_quote_line(data: bytes) -> int:
    """The line of the quote no other closes: with an odd count of quotes (doubled ones
    inside a field come in pairs), the last one (pandas counts rows, which quoted line
    breaks make fewer than lines)."""
    return data.count(b"\n", 0, data.rfind(b'"')) + 1


def line_of(frame: pd.DataFrame, row: int, header_lines: int | None = None) -> int:
    """1-based line in the file of the `row`-th row of a frame from :func:`read_table`.

    The frame's index is the row's position among the file's data lines (blank lines
    included), so the answer stays right after blank lines were dropped.
    """
    if header_lines is None:
        header_lines = frame.attrs.get("header_lines", 0)
    return int(frame.index[row]) + 1 + header_lines


def to_int(frame: pd.DataFrame, column: str) -> pd.Series:
    """Column as int64 (floats like ``874965478.0`` accepted), naming the first bad line."""
    if pd.api.types.is_integer_dtype(frame[column]):
        return frame[column].astype(np.int64)
    fast = arrow_int64(frame[column])
    if fast is not None:
        return fast
    # spaces, decimals, junk: accepted or reported below
    numbers = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    bad = numbers.isna()
    if numbers.dtype.kind == "u":  # whole numbers past int64's range
        bad |= numbers > np.iinfo(np.int64).max
    elif numbers.dtype.kind == "f":  # inf, fractions, and numbers a float cannot hold exactly (past 2**53)
        with np.errstate(invalid="ignore"):
            bad |= ~np.isfinite(numbers) | (numbers != np.floor(numbers)) | (numbers.abs() > 2.0**53)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        line = line_of(frame, row)
        raise DataError(
            f"{frame.attrs.get('path', '<table>')}, line {line}: column {column!r} "
            f"expects a 64-bit integer, found {frame[column].iloc[row]!r}"
        )
    return numbers.astype(np.int64)


def rating_mask(frame: pd.DataFrame, column: str | None, threshold: float | None) -> np.ndarray | None:
    """Which rows of `frame` are rated at or above `threshold` in `column` (None: no
    threshold, every row). A rating that is not a number is an error naming its line; a
    file without a rating column (`column` None) cannot be filtered by one."""
    if threshold is None:
        return None
    path = frame.attrs.get("path", "<table>")
    if column is None or column not in frame.columns:
        raise DataError(f"{path}: no rating column, so min_rating (--min-rating) cannot be applied; "
                        "every interaction of this file is a positive")
    try:
        ratings = pc.cast(pa.array(frame[column], from_pandas=True), pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        ratings = pd.to_numeric(frame[column].astype(str).str.strip(), errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(ratings)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}, line {line_of(frame, row)}: column {column!r} expects a rating (a number), "
                        f"found {frame[column].iloc[row]!r}")
    kept = ratings >= threshold
    if len(kept) and not kept.any():
        raise DataError(f"{path}: no rating is at or above min_rating (--min-rating) {threshold:g}; the ratings run "
                        f"from {ratings.min():g} to {ratings.max():g}")
    return kept


def to_seconds(frame: pd.DataFrame, column: str) -> pd.Series:
    """A time column as int64 seconds: numbers as they are (Unix seconds), or ISO 8601
    dates and datetimes (``2024-03-01``, ``2024-03-01 12:30:00``, ``...T12:30:00+02:00``)
    as Unix seconds, a time without an offset read as UTC. A column mixing the two, or
    with another text, is an error naming the first line that is neither.
    """
    values = frame[column]
    if pd.api.types.is_integer_dtype(values) or not len(values) or not re.match(ISO_DATE, str(values.iloc[0]).strip()):
        return to_int(frame, column)  # numbers (a date further down is reported there as not one)
    text = values.astype(str).str.strip()
    parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    bad = (parsed.isna() | ~text.str.match(ISO_DATE)).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{frame.attrs.get('path', '<table>')}, line {line_of(frame, row)}: column {column!r} holds ISO dates "
            f"elsewhere; expects a date like 2024-03-01 12:30:00 or Unix seconds throughout, found {values.iloc[row]!r}"
        )
    return pd.Series(parsed.to_numpy(dtype="datetime64[s]").astype(np.int64), index=values.index, name=column)


ISO_DATE = r"\d{4}-\d{2}-\d{2}"  # how an ISO 8601 date or datetime begins


def split_multi(ids: pd.Series, values: pd.Series, sep: str) -> pd.DataFrame:
    """(id, 'a|b|c') rows -> one (id, value) row per non-empty value."""
    frame = pd.DataFrame({"id": ids.to_numpy(), "value": values.astype(str).str.split(sep)})
    frame = frame.explode("value")
    frame["value"] = frame["value"].astype(str).str.strip()
    return frame[frame["value"] != ""].reset_index(drop=True)
