"""`movierec diagnose` on a tiny split folder (no side fields): prints and writes the table.

Split: 12 users x 8 items, users 0..5 in items 0..3, users 6..11 in items 4..7;
3 train, 1 valid, 1 test item each.
"""

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from movierec.cli import app
from movierec.split import Split, write_split


def tiny_split(folder):
    rng = np.random.default_rng(0)
    parts = {"train": [], "valid": [], "test": []}
    for user in range(12):
        items = rng.permutation(4) + (user // 6) * 4
        for name, chosen in (("train", items[:2]), ("valid", items[2:3]), ("test", items[3:4])):
            parts[name] += [(f"u{user}", f"i{item}", 100 + user) for item in chosen]
    frames = {name: pd.DataFrame(rows, columns=["user", "item", "timestamp"]) for name, rows in parts.items()}
    write_split(Split(frames["train"], frames["valid"], frames["test"]), folder)


def test_diagnose_writes_one_row_per_configuration(tmp_path):
    tiny_split(tmp_path / "split")
    result = CliRunner().invoke(app, ["diagnose", "--split-dir", str(tmp_path / "split"), "--data", "",
                                      "--depth", "4", "--epochs", "1", "--threads", "1",
                                      "--out", str(tmp_path / "rows.json")])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert [row["depth"] for row in rows] == [4, 4, 4]
    assert "grad norm block 0" in result.output


def test_diagnose_missing_split_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["diagnose", "--split-dir", str(tmp_path / "absent"), "--data", ""])
    assert result.exit_code == 2 and "error" in result.output
