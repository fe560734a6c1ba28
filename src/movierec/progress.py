"""Live progress on stderr for long work: grid points, epochs, scoring batches, reading.

Off unless a command turns it on (:func:`enable`); the CLI does so only when stderr is
a terminal and ``--quiet`` is not given, so the library, its tests and piped or
logged output stay silent. Tasks nest (a grid point's epochs under the grid) in one
live display, removed when the work ends; the bars never mix with the run's log lines,
which rich prints above them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

_console: Console | None = None
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
    """Show progress from now on, on `console` (default: a rich console on stderr)."""
    global _console
    _console = console or Console(stderr=True)


def disable() -> None:
    global _console
    _console = None


def enabled() -> bool:
    return _console is not None


@contextlib.contextmanager
def task(description: str, total: int | None = None) -> Iterator[Task]:
    """A progress line for the block: ``with task("ease grid", 18) as t: ... t.advance()``."""
    global _display, _open_tasks
    if not enabled():
        yield Task()
        return
    if _display is None:
        _display = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=_console, transient=True)
        _display.start()
    task_id = _display.add_task(description, total=total)
    _open_tasks += 1
    try:
        yield Task(_display, task_id)
    finally:
        _display.remove_task(task_id)
        _open_tasks -= 1
        if _open_tasks == 0:
            _display.stop()
            _display = None
