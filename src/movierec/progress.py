"""Live progress on stderr for long work: grid points, epochs, scoring batches, reading.

Off unless a command turns it on (:func:`enable`); the CLI does so only when stderr is
a terminal and ``--quiet`` is not given, so the library, its tests and piped or
logged output stay silent. Tasks nest (a grid point's epochs under the grid) in one
live display, removed when the work ends; the run's log lines print above it. Only
the thread that turned progress on draws: work in other threads (a service's request
handlers, say) stays silent, so the display is never shared between threads.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

_lock = threading.Lock()
_console: Console | None = None
_owner: int | None = None  # the thread that may draw
_display: Progress | None = None
_open_tasks = 0


class Task:
    """One line of the display; silent when progress is off."""

    def __init__(self, display: Progress | None = None, task: TaskID | None = None) -> None:
        self._display, self._task = display, task

    def advance(self, steps: int = 1, description: str | None = None) -> None:
        if self._display is not None:
            self._display.update(self._task, advance=steps, refresh=True,
                                 **({"description": description} if description else {}))


def enable(console: Console | None = None) -> None:
    """Show this thread's progress from now on, on `console` (default: a rich console on stderr)."""
    global _console, _owner
    with _lock:
        _console, _owner = console or Console(stderr=True), threading.get_ident()


def disable() -> None:
    """No more progress; a display still open is closed."""
    global _console, _owner, _display, _open_tasks
    with _lock:
        if _display is not None:
            _display.stop()
        _console, _owner, _display, _open_tasks = None, None, None, 0


def enabled() -> bool:
    """Whether this thread's work shows progress."""
    return _console is not None and _owner == threading.get_ident()


@contextlib.contextmanager
def task(description: str, total: int | None = None) -> Iterator[Task]:
    """A progress line for the block: ``with task("ease grid", 18) as t: ... t.advance()``."""
    global _display, _open_tasks
    if not enabled():
        yield Task()
        return
    with _lock:
        if _display is None:
            _display = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=_console, transient=True)
            _display.start()
        display = _display
        task_id = display.add_task(description, total=total)
        _open_tasks += 1
    try:
        yield Task(display, task_id)
    finally:
        with _lock:
            if _display is display:  # not closed by disable() meanwhile
                display.remove_task(task_id)
                _open_tasks -= 1
                if _open_tasks == 0:
                    display.stop()
                    _display = None
