import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from movierec.cli import app
from tests.synthetic import write_planted_csv

runner = CliRunner()


def test_split_says_what_reading_did(tmp_path):
    data = tmp_path / "repeats.csv"
    data.write_text("user,item,timestamp\n" + "".join(f"{u},{i},{i}\n" for u in range(1, 6) for i in range(1, 12))
                    + "1,1,50\n")
    result = runner.invoke(app, ["split", "--data", str(data), "--out", str(tmp_path / "split"), "--protocol",
                                 "random"])
    assert result.exit_code == 0, result.output
    assert "note: collapsed 1 duplicate (user, item) rows" in result.output


def test_an_out_path_the_file_system_refuses_is_named_in_words(tmp_path):
    data = tmp_path / "plain.csv"
    data.write_text("user,item,timestamp\n" + "".join(f"{u},{i},{i}\n" for u in range(1, 6) for i in range(1, 12)))
    (tmp_path / "taken").write_text("a file")
    for out, words in ((tmp_path / "taken", "already exists, where a folder was to be made"),
                       (tmp_path / "taken" / "split", "a file is on the way, where a folder is needed")):
        result = runner.invoke(app, ["split", "--data", str(data), "--out", str(out), "--protocol", "random"])
        assert result.exit_code == 2 and f"error: {out}: {words}" in " ".join(result.output.split()), result.output
        assert "Errno" not in result.output


def test_split_and_run_filter_ratings_and_the_core_before_splitting(tmp_path):
    data = tmp_path / "rated.csv"  # users 1-6 rate items 1-11; item 11 only by user 1, rated 1 by everyone else
    data.write_text("user,item,timestamp,rating\n" + "".join(
        f"{u},{i},{i},{1 if (i % 3 == 0 and u > 1) else 5}\n" for u in range(1, 7) for i in range(1, 12)
        if i < 11 or u == 1))
    result = runner.invoke(app, ["split", "--data", str(data), "--out", str(tmp_path / "split"), "--protocol",
                                 "random", "--min-rating", "4", "--min-item-users", "2"])
    assert result.exit_code == 0, result.output
    assert "note: kept the 46 of 61 ratings at or above 4 (min_rating) as positives" in result.output
    assert "note: k-core (items with at least 2 users; 1 round of dropping): dropped 4 of 46" \
        in result.output  # items 3, 6, 9 and 11 kept by user 1 alone
    every = pd.concat([pd.read_csv(tmp_path / "split" / f"{part}.csv") for part in ("train", "valid", "test")])
    assert len(every) == 42 and not set(every["item"]) & {3, 6, 9, 11}
    result = runner.invoke(app, ["run", "--data", str(data), "--models", "pop", "--out", str(tmp_path / "run"),
                                 "--min-rating", "4", "--min-item-users", "2", "--protocol", "random", "--k", "3"])
    assert result.exit_code == 0 and "dropped 4 of 46" in result.output, result.output
    assert "[filter]" in (tmp_path / "run" / "config.toml").read_text()
    new_users = tmp_path / "new.csv"  # z rated item 1 low: history only where the file is read as the run was
    new_users.write_text("user,item,timestamp,rating\nz,1,1,2\nz,2,2,5\n")
    out = tmp_path / "lists.csv"
    plain = runner.invoke(app, ["recommend", "--run", str(tmp_path / "run"), "--histories", str(new_users),
                                "--out", str(out), "--k", "3"])
    assert plain.exit_code == 0, plain.output
    assert "the run kept only ratings at or above 4 as positives" in plain.output and "--min-rating 4" in plain.output
    assert 1 not in pd.read_csv(out)["item"].tolist()  # pop never lists a history's own items
    alike = runner.invoke(app, ["recommend", "--run", str(tmp_path / "run"), "--histories", str(new_users),
                                "--out", str(out), "--k", "3", "--min-rating", "4"])
    assert alike.exit_code == 0 and "kept the 1 of 2 ratings" in alike.output, alike.output
    assert 1 in pd.read_csv(out)["item"].tolist()  # the low rating is no history: item 1 may be listed again


def test_run_score_export_from_the_command_line(tmp_path):
    data = tmp_path / "planted.csv"
    write_planted_csv(data)
    split_dir, out = tmp_path / "split", tmp_path / "run"
    result = runner.invoke(app, ["split", "--data", str(data), "--out", str(split_dir), "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "test users) ->" in result.output
    again = runner.invoke(app, ["split", "--data", str(data), "--out", str(split_dir), "--seed", "2"])
    assert again.exit_code != 0 and "already holds a split" in again.output  # not replaced silently
    result = runner.invoke(app, ["run", "--split-dir", str(split_dir), "--models", "pop,ease",
                                 "--out", str(out), "--no-refit"])
    assert result.exit_code == 0, result.output
    assert "ease" in result.output
    page = (out / "report.html").read_text()
    assert "ease" in page
    assert "Tuning: run<" in page and "partial" not in page  # named after the run, not its staging folder
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
    assert "benchmark_filename: [train, valid, test]" in result.output
    train = pd.read_csv(tmp_path / "rb" / "planted" / "planted.train.inter", sep="\t")
    assert list(train.columns) == ["user_id:token", "item_id:token", "timestamp:float"]


def test_bad_input_gives_a_clear_error_and_exit_code(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,timestamp\nu1,i1,100\nu2,i2,notatime\n")
    result = runner.invoke(app, ["run", "--data", str(bad), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "line 3" in result.output and "bad.csv" in result.output


@pytest.mark.parametrize("options, message", [
    (["--seed", "-1"], "--seed) must be a whole number >= 0, got -1"),
    (["--k", "100000"], "--k 100000 exceeds the catalogue's 45 items; give --k between 1 and 45"),
    (["--models", "pop,nosuch"], "--models (or [run] models): unknown model(s) 'nosuch'; available:"),
    (["--protocol", "nope"], "protocol 'nope' unknown"),
    (["--threads", "0"], "--threads must be a whole number >= 1, got 0"),
])
def test_bad_options_are_one_line_naming_the_option(tmp_path, options, message):
    data = tmp_path / "planted.csv"
    write_planted_csv(data)
    result = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "run"), *options])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.parametrize("options, message", [
    (["--protocol", "random", "--tail", "5"], "--tail has no effect with --protocol random, which holds out "
                                              "--fraction only"),
    (["--protocol", "temporal", "--fraction", "0.3"], "--fraction has no effect with --protocol temporal"),
])
def test_a_split_option_the_protocol_does_not_read_is_an_error(tmp_path, options, message):
    data = tmp_path / "planted.csv"
    write_planted_csv(data)
    result = runner.invoke(app, ["split", "--data", str(data), "--out", str(tmp_path / "split"), *options])
    assert result.exit_code == 2 and message in result.output and not (tmp_path / "split").exists()
    result = runner.invoke(app, ["split", "--data", str(data), "--out", str(tmp_path / "split"), "--protocol",
                                 "random", "--fraction", "0.2"])
    assert result.exit_code == 0, result.output


def test_an_unwritable_run_folder_is_an_error_not_a_traceback(tmp_path):
    data = tmp_path / "planted.csv"
    write_planted_csv(data)
    (tmp_path / "taken").write_text("a file, not a folder")
    result = runner.invoke(app, ["run", "--data", str(data), "--models", "pop", "--out", str(tmp_path / "taken")])
    assert result.exit_code == 2 and "error:" in result.output and "Traceback" not in result.output


def test_version_prints_the_package_version():
    from importlib.metadata import version

    from movierec import __version__

    assert __version__ == version("movierec")  # the module's and the installed package's agree
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"movierec {__version__}"


def test_brackets_in_ids_and_paths_print_as_written(tmp_path):
    """Rich markup is off for what the CLI echoes: "[/x]" is an id, "[b]" part of a path."""
    data = tmp_path / "planted.csv"
    write_planted_csv(data)
    data.write_text(data.read_text().replace(",i7,", ",[/x],"))
    out = tmp_path / "run[b]"
    result = runner.invoke(app, ["run", "--data", str(data), "--models", "pop", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"run folder: {out}" in result.output
    result = runner.invoke(app, ["recommend", "--run", str(out), "--history", "[/x],[nosuch]", "--k", "3"])
    assert result.exit_code == 0, result.output
    assert "not in the run's catalogue (ignored): [nosuch]" in result.output
    table = runner.invoke(app, ["recommend", "--run", str(out), "--history", "i1", "--k", "44"])
    assert table.exit_code == 0 and "[/x]" in table.output, table.output


def test_a_terminated_run_publishes_nothing_and_leaves_no_half_made_folder(tmp_path):
    """SIGTERM unwinds like Ctrl-C: the staging folder goes, the folder holds what it held."""
    import signal
    import subprocess
    import sys

    data = tmp_path / "planted.csv"
    write_planted_csv(data)
    out, config = tmp_path / "run", tmp_path / "slow.toml"
    config.write_text("[models.ials]\ndim = 256\nepochs = 2000\npatience = 2000\n")  # minutes: still running
    process = subprocess.Popen([sys.executable, "-m", "movierec.cli", "run", "--data", str(data), "--models",
                                "pop,ials", "--config", str(config), "--out", str(out), "--threads", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:  # the data is read: the models train next
        if line.startswith("data:"):
            break
    process.send_signal(signal.SIGTERM)
    rest = process.stdout.read()
    assert process.wait(timeout=60) == 143, rest  # 128 + SIGTERM
    assert "interrupted: nothing was published" in rest
    assert not out.exists() or not any(out.iterdir())


def test_a_run_s_threshold_is_read_alone_from_its_config(tmp_path):
    """Only [filter] min_rating feeds the --histories note: a config today's checks refuse
    (or one not TOML at all) must not stop scoring a file."""
    from movierec.cli.batch import _run_min_rating

    config = tmp_path / "config.toml"
    config.write_text('[models.ensemble]\nmember_params = {eas = {l2 = 5.0}}\n[filter]\nmin_rating = 4\n')
    assert _run_min_rating(config) == 4.0
    config.write_text("not toml [")
    assert _run_min_rating(config) is None and _run_min_rating(tmp_path / "none.toml") is None


def test_tune_takes_the_filter_options_too(tmp_path):
    data = tmp_path / "planted.csv"
    write_planted_csv(data)  # no rating column: a threshold is refused, naming the file
    result = runner.invoke(app, ["tune", "--data", str(data), "--models", "ease", "--trials", "1", "--storage",
                                 "memory", "--min-rating", "4", "--out", str(tmp_path / "study")])
    assert result.exit_code == 2 and "planted.csv: no rating column, so min_rating" in result.output, result.output
