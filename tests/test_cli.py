import json

import pandas as pd
from typer.testing import CliRunner

from movierec.cli import app
from tests.synthetic import write_planted_csv

runner = CliRunner()


def test_run_score_export_from_the_command_line(tmp_path):
    data = tmp_path / "planted.csv"
    write_planted_csv(data)
    split_dir, out = tmp_path / "split", tmp_path / "run"
    result = runner.invoke(app, ["split", "--data", str(data), "--out", str(split_dir), "--seed", "1"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["run", "--split-dir", str(split_dir), "--models", "pop,ease",
                                 "--out", str(out), "--no-refit"])
    assert result.exit_code == 0, result.output
    assert "ease" in result.output
    # scoring the run's own lists with `score` gives the run's test metrics
    result = runner.invoke(app, ["score", "--split-dir", str(split_dir), "--recs",
                                 str(out / "recommendations" / "ease.csv")])
    assert result.exit_code == 0, result.output
    scored = json.loads(result.output[result.output.index("{"):])
    expected = json.loads((out / "metrics.json").read_text())["models"]["ease"]["test"]
    assert abs(scored["recall@10"] - expected["recall@10"]) < 1e-9
    result = runner.invoke(app, ["export", "recbole", "--split-dir", str(split_dir), "--out",
                                 str(tmp_path / "rb"), "--name", "planted"])
    assert result.exit_code == 0, result.output
    train = pd.read_csv(tmp_path / "rb" / "planted" / "planted.train.inter", sep="\t")
    assert list(train.columns) == ["user_id:token", "item_id:token", "timestamp:float"]


def test_bad_input_gives_a_clear_error_and_exit_code(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,timestamp\nu1,i1,100\nu2,i2,notatime\n")
    result = runner.invoke(app, ["run", "--data", str(bad), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "line 3" in result.output and "bad.csv" in result.output
