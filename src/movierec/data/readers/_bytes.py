"""A file's bytes for the parsers: mapped into memory, past a byte-order mark; files mixing encodings refused."""

from __future__ import annotations

import codecs
import mmap
import re
from pathlib import Path

import numpy as np
import pyarrow as pa

from movierec.exceptions import DataError

COUNT_BLOCK = 1 << 24  # bytes compared at a time when counting quotes


class FileBytes:
    """A file's bytes past a leading UTF-8 byte-order mark (spreadsheets write one; it is
    not part of the header), mapped into memory rather than read into a copy.

    Arrow parses the mapped pages in place, so a ratings file is not first copied
    whole; a file that cannot be mapped (empty, a pipe) is read. `content` replaces
    the file's bytes (a rewritten copy). Used as a context manager, the mapping is
    closed on leaving it. A file truncated by another process while it is mapped ends
    the reading process (SIGBUS) instead of giving a partial table: write data files
    to a new name and rename them, as movierec's own writers do.
    """

    def __init__(self, path: Path, content: bytes | None = None) -> None:
        if content is None:
            with open(path, "rb") as handle:
                try:
                    content = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
                except (ValueError, OSError):
                    content = handle.read()
        self._raw = content
        self._start = len(codecs.BOM_UTF8) if content[:3] == codecs.BOM_UTF8 else 0

    def __enter__(self) -> FileBytes:
        return self

    def __exit__(self, *_exc) -> None:
        if isinstance(self._raw, mmap.mmap):
            try:
                self._raw.close()
            except BufferError:  # an Arrow buffer still holds the pages (a traceback's frame): it frees them
                pass

    def __len__(self) -> int:
        return len(self._raw) - self._start

    def head(self, n: int) -> bytes:
        return self._raw[self._start:self._start + n]

    def count(self, byte: bytes) -> int:
        """How often one `byte` occurs, read in place a block at a time (a mapping has no
        `count`, and one comparison of the whole file would take its size again)."""
        if len(byte) != 1:
            raise ValueError(f"count takes one byte, got {byte!r}")
        data = np.frombuffer(self._raw, dtype=np.uint8)[self._start:]
        return sum(int(np.count_nonzero(data[start:start + COUNT_BLOCK] == byte[0]))
                   for start in range(0, len(data), COUNT_BLOCK))

    def last_line(self) -> bytes:
        """The bytes after the last line break (empty where the file ends with one)."""
        return self._raw[max(self._raw.rfind(b"\n"), self._start - 1) + 1:]

    def find(self, sub: bytes) -> int:
        """The offset of `sub`'s first occurrence, -1 where there is none."""
        at = self._raw.find(sub, self._start)
        return at - self._start if at >= 0 else -1

    def arrow(self) -> pa.Buffer:
        """The bytes as an Arrow buffer, without a copy."""
        return pa.py_buffer(self._raw).slice(self._start)

    def copy(self) -> bytes:
        return self._raw[self._start:]


UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def refuse_mixed_encodings(data: bytes, path: Path, looked_at: int = 10_000) -> None:
    """A DataError naming the line of the first byte that is not UTF-8 where another line
    of the file is UTF-8 with accented text: read as latin-1, that line's "José" would
    become "JosÃ©", another id. A latin-1 file whose bytes happen to pair like UTF-8
    ("É»") has no such line (its other bytes fail), and is left to latin-1."""
    try:
        data.decode("utf-8")
        return
    except UnicodeDecodeError as error:
        bad = error.start
    for seen, match in enumerate(UTF8_SEQUENCE.finditer(data)):
        if seen == looked_at:
            return
        begin = data.rfind(b"\n", 0, match.start()) + 1
        end = data.find(b"\n", match.end())
        try:
            data[begin:end if end >= 0 else len(data)].decode("utf-8")
        except UnicodeDecodeError:
            continue
        first, other = data.count(b"\n", 0, bad) + 1, data.count(b"\n", 0, begin) + 1
        raise DataError(f"{path}, line {first}: byte 0x{data[bad]:02x} is not UTF-8, though line {other}'s accented "
                        "text is: the file mixes two encodings; save it as UTF-8")
