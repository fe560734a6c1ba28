import multiprocessing
import time

import pytest
import torch
from threadpoolctl import threadpool_info

from movierec import threads
from movierec.exceptions import ConfigError

FREE_CORES = threads.free_cores  # the real measurement (conftest stands one free core in for it)


def test_a_thread_count_is_set_for_torch_and_the_blas():
    assert threads.use_threads(3) == 3
    assert torch.get_num_threads() == 3
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 3 for pool in blas)


@pytest.mark.parametrize("bad", [0, -2, True, 1.5])
def test_a_bad_thread_count_is_refused(bad):
    with pytest.raises(ConfigError, match="--threads must be a whole number >= 1"):
        threads.use_threads(bad)


def test_free_cores_are_the_available_ones_less_the_busy_share(monkeypatch):
    """4 cores, half of their ticks busy between the two readings: 2 busy, 2 free."""
    readings = iter([(1_000, 500), (1_400, 700)])
    monkeypatch.setattr(threads, "_affinity", lambda: {0, 1, 2, 3})
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    monkeypatch.setattr(threads, "_cpu_ticks", lambda cpus: next(readings))
    assert FREE_CORES(sample_seconds=0.0) == 2
    readings = iter([(1_000, 500), (1_400, 500)])  # all busy: still one thread
    assert FREE_CORES(sample_seconds=0.0) == 1


def test_the_default_splits_the_free_cores_among_workers(monkeypatch):
    monkeypatch.setattr(threads, "free_cores", lambda: 6)
    assert threads.use_threads(None, processes=2) == 3
    assert threads.use_threads(None, processes=8) == 1


def _spin(until: float) -> None:
    while time.monotonic() < until:
        pass


def test_cores_kept_busy_by_other_processes_are_not_free():
    cores = threads.available_cores()
    context = multiprocessing.get_context("spawn")
    busy = [context.Process(target=_spin, args=(time.monotonic() + 30,)) for _ in range(cores)]
    for process in busy:
        process.start()
    try:
        time.sleep(1.0)  # the spinners are running
        assert FREE_CORES(sample_seconds=0.5) == 1
    finally:
        for process in busy:
            process.terminate()
            process.join()


def test_more_threads_than_cores_is_noted(monkeypatch, capsys):
    import torch

    from movierec import threads as module
    from movierec.cli.common import set_threads

    monkeypatch.setattr(module, "available_cores", lambda: 1)
    previous = torch.get_num_threads()
    try:
        assert set_threads(2) == 2
        assert "--threads 2 x 1 process asks for more than the 1 cores" in capsys.readouterr().err
        set_threads(1)
        assert "asks for more" not in capsys.readouterr().err
    finally:
        torch.set_num_threads(previous)
