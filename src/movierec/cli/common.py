"""What the `movierec` commands share: the typer apps, the consoles, the one-line error,
live progress and the thread count."""

from __future__ import annotations

import signal
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from movierec.exceptions import MovieRecError

app = typer.Typer(help="Top-N movie recommendation from implicit feedback.", no_args_is_help=True)
data_app = typer.Typer(help="Find, download and inspect data sets.", no_args_is_help=True)
export_app = typer.Typer(help="Write a split in other libraries' formats.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(export_app, name="export")
# soft wrap: a long line (a path, a command to repeat, a Markdown table) is never broken
# at the console's width, so what is piped or copied stays whole; no markup: paths, ids and
# titles print as given ("[b]" is text), and a styled line asks for markup itself
console = Console(soft_wrap=True, markup=False)
err_console = Console(stderr=True, soft_wrap=True, markup=False)

DataDir = typer.Option(None, "--data-dir", help="Folder holding named data sets (default: $MOVIEREC_DATA_DIR, "
                       "else ~/.cache/movierec, where missing ones are downloaded).")
# which interactions a data set gives before it is split (movierec.data.filters)
MinRating = typer.Option(None, "--min-rating", help="Keep only ratings at or above this as positives (e.g. 4; "
                         "data sets with a rating column). Default: every rating.")
MinUserItems = typer.Option(None, "--min-user-items", help="k-core: keep users with at least this many items "
                            "(with --min-item-users, until both hold). Default: 0, everyone.")
MinItemUsers = typer.Option(None, "--min-item-users", help="k-core: keep items with at least this many users. "
                            "Default: 0, every item.")


def _print_version(value: bool) -> None:
    if value:
        from movierec import __version__

        console.print(f"movierec {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                      help="Print movierec's version and exit.")) -> None:
    """Top-N movie recommendation from implicit feedback."""


OS_ERRORS = {  # what the file system refused, in words (Python's own: "[Errno 17] File exists: 'x'")
    FileExistsError: "already exists, where a folder was to be made",
    NotADirectoryError: "a file is on the way, where a folder is needed",
    IsADirectoryError: "a folder, where a file is needed",
    FileNotFoundError: "no such file or folder",
    PermissionError: "permission denied",
}


def fail(error: Exception) -> None:
    """One line on stderr naming what was wrong; exit status 2. No traceback reaches a user."""
    err_console.print(f"[bold red]error:[/] {escape(described(error))}", markup=True, highlight=False,
                      soft_wrap=True)
    raise typer.Exit(code=2)


def described(error: Exception) -> str:
    """The error's message; a file system error as its path and what was wrong with it."""
    if isinstance(error, OSError) and error.filename is not None:
        what = next((words for kind, words in OS_ERRORS.items() if isinstance(error, kind)), error.strerror)
        return f"{error.filename}: {what}"
    return str(error)


def print_notes(notes: list[str]) -> None:
    """What a command noticed in its input, one "note:" line each on stderr (stdout stays
    what scripts read)."""
    for note in notes:
        err_console.print(f"note: {note}", highlight=False)


def show_progress(quiet: bool) -> None:
    """Live progress on stderr only for a person watching: a terminal, and no --quiet."""
    from movierec import progress

    if not quiet and err_console.is_terminal:
        progress.enable(err_console)
    else:
        progress.disable()


Quiet = typer.Option(False, "--quiet", "-q", help="No live progress on stderr (it shows only on a terminal).")
Threads = typer.Option(None, "--threads", help="torch and BLAS threads per process (default: the cores other "
                       "work leaves free, measured at start).")


def set_threads(threads: int | None, *, processes: int = 1, speak: bool = True) -> int:
    """Set this process's thread count (:func:`movierec.threads.use_threads`); a bad value is one error line,
    and more threads than cores a note (from one process of several: `speak`)."""
    from movierec.threads import available_cores, use_threads

    try:
        used = use_threads(threads, processes=processes)
    except MovieRecError as error:
        fail(error)
        raise  # not reached: fail exits
    if speak and threads is not None and threads * processes > (cores := available_cores()):
        print_notes([f"--threads {threads} x {processes} process{'es' if processes > 1 else ''} asks for more than "
                     f"the {cores} cores this process may use: workers will wait on each other (README, Threads)"])
    return used


def print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def silent(_message: str) -> None:
    """The log of a torchrun rank other than 0 (rank 0 speaks for all)."""


def path_text(path: Path | None) -> str | None:
    return None if path is None else str(path)


class Terminated(KeyboardInterrupt):
    """SIGTERM, unwound like Ctrl-C (the exit status says which: 143, not 130)."""


def stop_on_terminate() -> None:
    """SIGTERM (`kill`, a scheduler's stop) unwinds like Ctrl-C: the half-made run folder is
    removed and nothing is published, where the default would end the process on the spot."""
    signal.signal(signal.SIGTERM, _terminate)


def _terminate(_signum, _frame) -> None:
    raise Terminated
