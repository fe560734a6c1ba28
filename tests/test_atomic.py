"""Atomic writes (movierec.atomic): whole files, no leftovers, ordinary permissions."""

from __future__ import annotations

import os
import stat

import pytest

from movierec import atomic
from movierec.atomic import atomic_write_bytes


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    atomic_write_bytes(tmp_path / "a" / "file.txt", b"hello")
    assert (tmp_path / "a" / "file.txt").read_bytes() == b"hello"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["file.txt"]


def test_a_folder_in_the_way_is_named_before_anything_is_written(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(IsADirectoryError, match=r"a folder is there; give a file's path: '.*taken'"):
        atomic_write_bytes(tmp_path / "taken", b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]  # no temporary file left behind


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_new_files_get_the_umask_permissions_and_replaced_files_keep_theirs(tmp_path):
    previous = os.umask(0o027)
    try:
        atomic_write_bytes(tmp_path / "new.csv", b"a")
        (tmp_path / "plain.csv").write_bytes(b"a")
        assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o640
        assert stat.S_IMODE((tmp_path / "plain.csv").stat().st_mode) == 0o640
        os.chmod(tmp_path / "new.csv", 0o604)
        atomic_write_bytes(tmp_path / "new.csv", b"b")
        assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o604
        assert (tmp_path / "new.csv").read_bytes() == b"b"
    finally:
        os.umask(previous)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("from_proc", [True, False])
def test_umask_is_read_from_proc_or_by_setting_it_back(tmp_path, monkeypatch, from_proc):
    real_umask = os.umask
    if not from_proc:
        monkeypatch.setattr(atomic, "PROC_STATUS", tmp_path / "missing")
    elif not atomic.PROC_STATUS.exists():
        pytest.skip("no /proc/self/status on this system")
    previous = real_umask(0o027)
    try:
        if from_proc:  # a pure read: setting the umask is not even tried

            def refuse(mask: int) -> int:
                raise AssertionError("the umask was set while /proc could be read")

            monkeypatch.setattr(os, "umask", refuse)
        assert atomic._umask() == 0o027
        monkeypatch.undo()
        assert real_umask(0o027) == 0o027  # and it is left as it was
    finally:
        real_umask(previous)
