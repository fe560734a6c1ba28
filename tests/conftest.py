"""Shared fixtures. Real data comes from $MOVIEREC_DATA_DIR (CI points it at ../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from movierec.data.download import DATA_DIR_ENV


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real-data folder; skipped when unset, except under CI where it must exist."""
    value = os.environ.get(DATA_DIR_ENV)
    if not value or not Path(value).is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI must set {DATA_DIR_ENV} to a folder holding ml-100k")
        pytest.skip(f"set {DATA_DIR_ENV} to run real-data tests")
    return Path(value)


@pytest.fixture(scope="session")
def splits_dir(data_dir: Path) -> Path:
    """The fixed ml-100k splits, which live beside the data folder (shared/splits)."""
    folder = data_dir.parent / "splits"
    if not folder.is_dir():
        pytest.skip(f"no fixed splits beside {data_dir}")
    return folder


@pytest.fixture()
def planted_csv(tmp_path: Path) -> Path:
    """The planted two-block interactions of tests/synthetic.py as a plain CSV."""
    from tests.synthetic import write_planted_csv

    path = tmp_path / "planted.csv"
    write_planted_csv(path)
    return path


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """torch and the BLAS on one thread in every test: tiny matrices gain nothing from threads, and
    on a shared 2-core machine torch's spinning workers made one test take 107 s instead of 6.
    Commands run in-process find one core free too (their default count); tests of the
    measurement itself call `tests.test_threads.FREE_CORES`, the real one."""
    from movierec import threads

    threads.use_threads(1)
    monkeypatch.setattr(threads, "free_cores", lambda **_: 1)


@pytest.fixture()
def member_fits(monkeypatch):
    """Spy on a module's `fit_members`: `member_fits(module)` returns the list it fills
    with (fitted with valid?, member params) per call, the fit itself unchanged."""

    def spy_on(module) -> list[tuple[bool, dict]]:
        calls: list[tuple[bool, dict]] = []
        real = module.fit_members

        def spy(members, params, history, **kwargs):
            calls.append((kwargs.get("valid") is not None, params))
            return real(members, params, history, **kwargs)

        monkeypatch.setattr(module, "fit_members", spy)
        return calls

    return spy_on
