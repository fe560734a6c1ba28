"""How many threads torch and the BLAS libraries get: the cores other work leaves free.

torch and OpenBLAS start one thread per core and their workers spin at every barrier.
On a machine that runs more than it has cores, a spinning worker waits for one that is
descheduled, and a run slows down far beyond its share of the CPU (docs/results.md,
"Under contention"). So commands take their thread count once, at start, from the
cores this process may run on (its CPU affinity) less those busy with other work,
measured from the kernel's idle counters over a short interval; ``--threads N``
fixes it instead. The same seed and the same thread count give the same figures.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from movierec.checks import is_whole_number
from movierec.exceptions import ConfigError

SAMPLE_SECONDS = 0.25  # the interval over which idle time is measured


def available_cores() -> int:
    """Cores this process may run on: its affinity mask, capped by a cgroup CPU quota."""
    cores = len(_affinity())
    try:  # cgroup v2: "max 100000" or "<quota> <period>"
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


def free_cores(*, sample_seconds: float = SAMPLE_SECONDS) -> int:
    """Available cores less those other work kept busy over `sample_seconds`, at least 1.

    Reads the idle and iowait ticks of this process's CPUs in /proc/stat twice; where
    it cannot be read (not Linux), the one-minute load average stands in.
    """
    cores, cpus = available_cores(), _affinity()
    first = _cpu_ticks(cpus)
    if first is None:
        busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    else:
        time.sleep(sample_seconds)
        second = _cpu_ticks(cpus)
        total, idle = second[0] - first[0], second[1] - first[1]
        busy = len(cpus) * (1.0 - idle / total) if second is not None and total > 0 else 0.0
    return max(1, min(cores, round(cores - busy)))


def _affinity() -> set[int]:
    try:
        return os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        return set(range(os.cpu_count() or 1))


def _cpu_ticks(cpus: set[int]) -> tuple[int, int] | None:
    """(all ticks, idle + iowait ticks) summed over `cpus`, or None without /proc/stat."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    total = idle = 0
    for line in lines:
        name, *values = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            ticks = [int(value) for value in values]
            total, idle = total + sum(ticks), idle + ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (total, idle) if total else None


def use_threads(threads: int | None, *, processes: int = 1) -> int:
    """Set torch's and the BLAS libraries' thread count for this process and return it.

    `threads` None: the free cores (:func:`free_cores`) shared among `processes`
    workers started side by side; a number: exactly that many per process.
    """
    if threads is not None and not is_whole_number(threads, 1):
        raise ConfigError(f"--threads must be a whole number >= 1, got {threads!r}")
    count = threads if threads is not None else max(1, free_cores() // max(processes, 1))
    torch.set_num_threads(count)
    threadpool_limits(limits=count)  # in force from now on (not a context: nothing restores it)
    return count
