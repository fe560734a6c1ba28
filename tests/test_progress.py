"""Progress shows on a terminal when a command turns it on, and nowhere else."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console
from typer.testing import CliRunner

from movierec import progress
from movierec.cli import app
from movierec.ranking import recommend_batched
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


def test_nothing_is_drawn_unless_a_command_turned_it_on():
    console, buffer = _terminal()
    with progress.task("grid", total=2) as line:
        line.advance()
    scores = np.random.default_rng(0).random((50, 7))
    recommend_batched(lambda users: scores[users], np.arange(50), 3, batch_size=2)  # 25 batches
    assert not progress.enabled() and buffer.getvalue() == ""


def test_a_command_whose_stderr_is_not_a_terminal_prints_no_progress(tmp_path):
    data = tmp_path / "planted.csv"
    write_planted_csv(data)
    result = CliRunner().invoke(app, ["run", "--data", str(data), "--models", "pop,ease", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert not progress.enabled()
    assert "0:00:0" not in result.output  # log lines and the table only: no bar with its elapsed time
