"""The README's Python example runs as written, against a real run folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.realdata
def test_the_readme_python_example_runs(run_dir, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "new_users.csv").write_text("user,item,timestamp\nann,50,1\nann,181,2\nbo,1,1\nbo,tt-none,2\n")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1, "one Python example in the README"
    code = blocks[0].replace('"runs/latest"', repr(str(run_dir)))
    exec(compile(code, str(README), "exec"), {})
    printed = capsys.readouterr().out
    assert "Star Wars (1977)" not in printed  # the history's own films are not recommended back
    assert "[]" in printed  # no unknown ids in that history
    assert "title" in printed
    assert "ann" in printed and "['tt-none'] []" in printed  # the file's lists, its unknown item, no unscored user
