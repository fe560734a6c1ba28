"""The README's Python example runs as written, against a real run folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.realdata
def test_the_readme_python_example_runs(run_dir, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1, "one Python example in the README"
    code = blocks[0].replace('"runs/latest"', repr(str(run_dir)))
    exec(compile(code, str(README), "exec"), {})
    printed = capsys.readouterr().out
    assert "Star Wars (1977)" not in printed  # the history's own films are not recommended back
    assert "[]" in printed  # no unknown ids in that history
    assert "title" in printed
