"""`python -m movierec.cli`: the `movierec` command (torchrun launches it this way)."""

from movierec.cli import app

app()
