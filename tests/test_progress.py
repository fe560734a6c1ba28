"""Progress shows on a terminal when a command turns it on, and nowhere else."""

from __future__ import annotations

import io
import sys
import threading

from rich.console import Console
from typer.testing import CliRunner

from movierec import cli, progress
from tests.synthetic import write_planted_csv


def _terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=100), buffer


def test_tasks_draw_on_the_enabled_console_and_nest():
    console, buffer = _terminal()
    progress.enable(console)
    try:
        with progress.task("grid", total=2) as outer:
            with progress.task("epochs", total=3) as inner:
                inner.advance(description="epoch 1 valid recall 0.1234")
            outer.advance()
    finally:
        progress.disable()
    assert "grid" in buffer.getvalue() and "epoch 1 valid recall 0.1234" in buffer.getvalue()


def test_other_threads_stay_silent_and_leave_no_display_open():
    console, buffer = _terminal()
    stdout = sys.stdout
    progress.enable(console)
    try:
        def work():
            for _ in range(50):
                with progress.task("from a request thread", total=1) as line:
                    line.advance()

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with progress.task("from the command", total=1) as line:
            line.advance()
    finally:
        progress.disable()
    assert "from the command" in buffer.getvalue() and "request thread" not in buffer.getvalue()
    assert sys.stdout is stdout  # the display closed and gave stdout back


def _run(tmp_path, monkeypatch, *options: str) -> str:
    console, buffer = _terminal()
    monkeypatch.setattr(cli.common, "err_console", console)
    data = tmp_path / "planted.csv"
    write_planted_csv(data)
    result = CliRunner().invoke(cli.app, ["run", "--data", str(data), "--models", "pop,ease",
                                          "--out", str(tmp_path / "r"), *options])
    assert result.exit_code == 0, result.output
    assert "0:00:0" not in result.output  # the log and the table go to stdout, bars never
    progress.disable()
    return buffer.getvalue()


def test_a_command_on_a_terminal_shows_its_tuning_and_quiet_silences_it(tmp_path, monkeypatch):
    assert "ease: tuning" in _run(tmp_path, monkeypatch)
    assert _run(tmp_path, monkeypatch, "--quiet") == ""


def test_a_command_whose_stderr_is_not_a_terminal_shows_none(tmp_path, monkeypatch):
    console = Console(file=io.StringIO(), force_terminal=False)
    monkeypatch.setattr(cli.common, "err_console", console)
    data = tmp_path / "planted.csv"
    write_planted_csv(data)
    result = CliRunner().invoke(cli.app, ["run", "--data", str(data), "--models", "pop,ease", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0 and console.file.getvalue() == "" and not progress.enabled()
