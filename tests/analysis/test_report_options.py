"""`movierec report`'s options read before any run is: the --lists entries."""

from __future__ import annotations

import pytest

from movierec.analysis.html_report import parse_lists
from movierec.exceptions import ConfigError


def test_list_files_are_named_once_each_and_a_folder_is_refused(tmp_path):
    (tmp_path / "a.csv").write_text("user,item\n1,2\n")
    assert parse_lists([f"A={tmp_path / 'a.csv'}"]) == {"A": tmp_path / "a.csv"}
    with pytest.raises(ConfigError, match="--lists names 'A' twice"):
        parse_lists([f"A={tmp_path / 'a.csv'}", f"A={tmp_path / 'b.csv'}"])
    with pytest.raises(ConfigError, match="a folder; give one list file"):
        parse_lists([f"A={tmp_path}"])
    with pytest.raises(ConfigError, match="--lists takes NAME=FILE"):
        parse_lists(["a.csv"])
