"""Two `movierec tune` processes share one study on a real PostgreSQL server that the
test starts itself (Debian's postgresql package; .ci/run installs it): every trial
recorded once, none lost."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import pytest

from tests.synthetic import write_planted_csv


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as Debian's `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture()
def postgres():
    binaries = _binaries()
    if binaries is None:
        if os.environ.get("CI"):
            pytest.fail(".ci/run installs Debian's postgresql; no initdb under /usr/lib/postgresql")
        pytest.skip("Debian's postgresql is not installed (.ci/run installs it)")
    # not under pytest's tmp_path: that is private to root, and the server runs as postgres
    home = Path(tempfile.mkdtemp(prefix="movierec-pg-"))
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subprocess.run(_as_server_user([str(binaries / "initdb"), "-D", str(home / "data"), "-A", "trust",
                                    "-U", "postgres"]), check=True, capture_output=True)
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1"
    started = subprocess.run(_as_server_user([str(binaries / "pg_ctl"), "-D", str(home / "data"), "-o", options,
                                              "-l", str(home / "log"), "-w", "start"]), capture_output=True, text=True)
    if started.returncode != 0:
        log = (home / "log").read_text() if (home / "log").exists() else started.stderr
        shutil.rmtree(home, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {log[-2000:]}")
    try:
        subprocess.run([str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                        "movierec"], check=True, capture_output=True)
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/movierec"
    finally:
        subprocess.run(_as_server_user([str(binaries / "pg_ctl"), "-D", str(home / "data"), "-m", "fast",
                                        "stop"]), capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.slow  # starts a server / a process group: the slow run of .ci/run
def test_two_processes_share_one_study_on_postgresql(postgres, tmp_path):
    data = tmp_path / "planted.csv"
    write_planted_csv(data)
    command = [sys.executable, "-m", "movierec.cli", "tune", "--data", str(data), "--models", "ease",
               "--trials", "4", "--storage", postgres, "--study", "shared", "--quiet"]
    workers = [subprocess.Popen([*command, "--worker", str(i), "--out", str(tmp_path / f"worker{i}")],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    try:
        outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    trials = optuna.load_study(study_name="shared-ease", storage=postgres).trials
    assert len(trials) == 8 and sorted(t.number for t in trials) == list(range(8))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert len({t.params["l2"] for t in trials}) == 8  # the two machines' samplers drew apart
