"""Atomic file output: every file movierec writes appears whole or not at all."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file.

    The file gets the permissions a plain ``open(path, "w")`` would give it (those of
    the file it replaces, else 0o666 less the umask), not the owner-only ones of a
    temporary file.
    """
    if path.is_dir():  # the rename would fail after the write, naming the temporary file
        raise IsADirectoryError(errno.EISDIR, "a folder is there; give a file's path", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o666 & ~_umask()
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


PROC_STATUS = Path("/proc/self/status")  # Linux: holds the umask since kernel 4.7


def _umask() -> int:
    """The process umask: from /proc on Linux (a pure read); elsewhere by setting it and
    putting it back at once, which another thread writing files meanwhile could see."""
    try:
        for line in PROC_STATUS.read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current
