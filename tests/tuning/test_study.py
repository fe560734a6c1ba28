"""movierec tune on the planted two-block data: spaces, the repeatable best, pruning,
resuming, and workers sharing one study (a journal file here; PostgreSQL in
test_postgres.py)."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import optuna
import pytest

from movierec.config import RunConfig, load_config
from movierec.exceptions import ConfigError, SplitError
from movierec.models.space import Choice, FloatRange
from movierec.pipeline import run
from movierec.split import load_encoded
from movierec.tuning import TuneSettings, tune
from movierec.tuning.search import Objective, space_of
from movierec.tuning.study import open_study, shares
from tests.synthetic import quiet, write_planted_csv, write_split_without_valid


@pytest.fixture()
def planted(tmp_path: Path) -> RunConfig:
    path = tmp_path / "planted.csv"
    write_planted_csv(path)
    return RunConfig(data=str(path), models=("ease",), out=str(tmp_path / "run"))


def test_a_model_s_space_takes_the_config_s_choices_ranges_and_fixed_values(planted):
    config = RunConfig(data=planted.data, params={"ease": {"l2": {"low": 1.0, "high": 10.0, "log": True},
                                                           "recency_decay": [1.0, 0.5], "recency_floor": 0.1}})
    space, fixed = space_of("ease", config)
    assert space == {"l2": FloatRange(1.0, 10.0, log=True), "recency_decay": Choice((1.0, 0.5))}
    assert fixed == {"recency_floor": 0.1}
    with pytest.raises(ConfigError, match="ease has no parameter 'depth'"):
        space_of("ease", RunConfig(data=planted.data, params={"ease": {"depth": [1, 2]}}))
    with pytest.raises(ConfigError, match="pop declares no search space"):
        space_of("pop", planted)


def test_the_best_toml_repeats_the_best_trial(planted, tmp_path):
    settings = TuneSettings(trials=5, out=str(tmp_path / "study"))
    (result,) = tune(planted, settings, log=quiet)
    assert result.complete == 5 and set(result.searched) == {"l2", "recency_decay"}
    assert (tmp_path / "study" / "trials.csv").read_text().count("\nease,") == 5
    repeated = run(load_config(tmp_path / "study" / "best.toml"), log=quiet)
    assert repeated.results["ease"].valid["recall@10"] == pytest.approx(result.best_value, abs=1e-12)


def test_a_memory_study_writes_no_journal_and_refuses_workers(planted, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = TuneSettings(trials=3, storage="memory", out=str(tmp_path / "study"))
    (result,) = tune(planted, settings, log=quiet)
    assert result.complete == 3 and (tmp_path / "study" / "best.toml").is_file()
    assert not (tmp_path / "memory").exists() and not (tmp_path / "study" / "journal.log").exists()
    (again,) = tune(planted, settings, log=quiet)
    assert again.complete == 3  # a second call starts afresh: nothing of the first is resumed
    with pytest.raises(ConfigError, match="--storage memory keeps the study in one process"):
        TuneSettings(storage="memory", jobs=2)


def test_models_without_a_space_are_left_out_and_every_space_is_checked_before_a_trial(planted, tmp_path):
    logged = []
    config = dataclasses.replace(planted, models=("pop", "ease"))
    (result,) = tune(config, TuneSettings(trials=2, out=str(tmp_path / "study")), log=logged.append)
    assert result.name == "ease" and any("note: pop declares no search space" in line for line in logged)
    assert load_config(tmp_path / "study" / "best.toml").models == ("pop", "ease")  # the run repeats both
    bad = dataclasses.replace(planted, models=("ease", "fm"), params={"fm": {"dim": {"low": 8}}})
    with pytest.raises(ConfigError, match=r"\[models.fm\] search space of 'dim'"):
        tune(bad, TuneSettings(trials=2, out=str(tmp_path / "bad")), log=quiet)
    assert not (tmp_path / "bad").exists()  # refused before ease's first trial
    fixed_bad = dataclasses.replace(planted, models=("ease", "fm"), params={"fm": {"device": "tpu"}})
    with pytest.raises(ConfigError, match="fm: device 'tpu'"):
        tune(fixed_bad, TuneSettings(trials=2, out=str(tmp_path / "bad")), log=quiet)
    assert not (tmp_path / "bad").exists()
    with pytest.raises(ConfigError, match="none of pop, pop"):
        tune(dataclasses.replace(planted, models=("pop", "pop")), TuneSettings(out=str(tmp_path / "p")), log=quiet)


def test_a_split_folder_without_validation_items_is_refused_before_a_trial(tmp_path):
    split_dir = write_split_without_valid(tmp_path / "split")
    config = RunConfig(data=None, split_dir=str(split_dir), models=("ease",), k=2)
    with pytest.raises(SplitError, match="the split holds no valid items"):
        tune(config, TuneSettings(trials=2, out=str(tmp_path / "study")), log=quiet)


def test_defaults_first_makes_the_model_s_defaults_a_new_study_s_first_trial(planted, tmp_path):
    config = dataclasses.replace(planted, params={"ease": {"recency_decay": [0.9, 1.0], "l2": {"low": 400.0,
                                                                                               "high": 900.0}}})
    settings = TuneSettings(trials=3, out=str(tmp_path / "study"), defaults_first=True)
    said: list[str] = []
    tune(config, settings, log=said.append)
    assert "note: ease's first trial draws l2: the default lies outside the space" in said
    tune(config, settings, log=quiet)  # resumed: not given the defaults again
    queued = [t.system_attrs.get("fixed_params") for t in open_study(settings, "ease", seed=0).trials]
    assert queued == [{"recency_decay": 1.0}] + [None] * 5  # l2's default, 300, lies outside the range: drawn
    data = load_encoded(data=planted.data, data_dir=None, split_dir=None, spec=planted.split)
    assert Objective("ease", data, planted).default_point() == {
        "l2": 300.0, "recency_decay": 1.0}
    plain = TuneSettings(trials=2, out=str(tmp_path / "plain"))
    tune(config, plain, log=quiet)
    assert not any("fixed_params" in t.system_attrs for t in open_study(plain, "ease", seed=0).trials)


def test_a_study_that_exists_is_resumed_with_new_draws_and_the_same_objective(planted, tmp_path):
    settings = TuneSettings(trials=2, out=str(tmp_path / "study"))
    tune(planted, settings, log=quiet)
    tune(planted, settings, log=quiet)
    trials = open_study(settings, "ease", seed=0).trials
    assert len(trials) == 4
    assert {t.params["l2"] for t in trials[:2]}.isdisjoint({t.params["l2"] for t in trials[2:]})
    with pytest.raises(ConfigError, match="was tuned with another k"):
        tune(dataclasses.replace(planted, k=5), settings, log=quiet)


def test_an_epoch_trained_model_is_pruned_through_the_shared_loop(planted):
    data = load_encoded(data=planted.data, data_dir=None, split_dir=None, spec=planted.split)
    config = RunConfig(data=planted.data, params={"fm": {"epochs": 5, "dim": 8, "device": "cpu"}})
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    study.optimize(Objective("fm", data, config), n_trials=2)  # recall never reaches 2: pruned at once
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.PRUNED] * 2
    assert all(len(t.intermediate_values) == 1 for t in study.trials)


def test_two_workers_share_a_journal_study_and_run_exactly_the_trials_asked(planted, tmp_path):
    settings = TuneSettings(trials=5, jobs=2, out=str(tmp_path / "study"))
    (result,) = tune(planted, settings, log=quiet)
    trials = open_study(settings, "ease", seed=0).trials
    assert len(trials) == 5 and result.complete == 5
    assert len({t.params["l2"] for t in trials}) == 5  # the workers' samplers drew apart
    assert shares(5, 2) == [3, 2] and shares(2, 3) == [1, 1, 0]


def test_bad_options_of_the_command_are_one_line(tmp_path):
    from typer.testing import CliRunner

    from movierec.cli import app

    data = tmp_path / "planted.csv"
    write_planted_csv(data)
    for options, message in ((["--storage", "nosuchdb://x"], "--storage 'nosuchdb://x': cannot open it"),
                             (["--models", "pop"], "pop declares no search space"),
                             (["--trials", "0"], "--trials must be a whole number >= 1")):
        result = CliRunner().invoke(app, ["tune", "--data", str(data), "--out", str(tmp_path / "s"), *options])
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
        if options[0] == "--storage":
            assert not (tmp_path / "s").exists()  # a storage that cannot open leaves no study folder
    out = tmp_path / "a-study-folder-whose-path-is-longer-than-a-console-line-of-eighty-columns"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(app, ["tune", "--data", str(data), "--out", str(out), "--models", "ease",
                                          "--trials", "1"])
    assert result.exit_code == 0, result.output
    assert f"movierec run --config {out / 'best.toml'}\n" in result.output  # one line, not wrapped at 80
    assert not [w for w in caught if issubclass(w.category, UserWarning)]  # too few trials for importances


def test_a_torch_model_s_best_toml_repeats_its_trial(planted, tmp_path):
    config = dataclasses.replace(planted, models=("fm",), params={"fm": {"epochs": 3, "dim": 8, "device": "cpu",
                                                                         "batch_size": 128}})
    (result,) = tune(config, TuneSettings(trials=2, pruner="none", out=str(tmp_path / "study")), log=quiet)
    repeated = run(dataclasses.replace(load_config(tmp_path / "study" / "best.toml"), refit=False), log=quiet)
    assert repeated.results["fm"].valid["recall@10"] == pytest.approx(result.best_value, abs=1e-12)


@pytest.mark.parametrize("options, message", [
    ({"trials": 0}, "--trials must be a whole number >= 1"),
    ({"pruner": "grid"}, "--pruner must be one of median, hyperband, none"),
    ({"study": "a/b"}, "--study must be a plain name"),
    ({"timeout": -1.0}, "--timeout must be a number of seconds > 0"),
    ({"timeout": float("nan")}, "--timeout must be a number of seconds > 0"),
])
def test_bad_settings_name_the_option(options, message):
    with pytest.raises(ConfigError, match=message):
        TuneSettings(**options)


@pytest.mark.parametrize("content, message", [
    (b"SQLite format 3\x00\xfb\xfc", " is a SQLite database, not an Optuna journal file; give its URL, sqlite:///"),
    (b"{bad\n{}\n", ", line 1: not an Optuna journal file .* sqlite:///"),
    (b"{}\n\xfb\n", ", line 2: not an Optuna journal file"),
])
def test_a_storage_path_that_is_no_journal_is_one_error_naming_it(tmp_path, content, message):
    from movierec.tuning.study import storage_of

    path = tmp_path / "study.db"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=f"--storage {path}{message}"):
        storage_of(TuneSettings(storage=str(path), out=str(tmp_path / "study")))


def test_a_journal_line_another_worker_is_still_writing_is_not_read(tmp_path):
    from movierec.tuning.study import storage_of

    path = tmp_path / "journal.log"
    path.write_bytes(b'{"op_code": 0, "worker_id": "w", "study_name": "s", "directions": [1]}\n{"op_co')
    storage_of(TuneSettings(storage=str(path), out=str(tmp_path / "study")))  # no error


def test_tune_says_what_reading_the_data_did(planted, tmp_path):
    from movierec.data.filters import DataFilter

    logged = []
    config = dataclasses.replace(planted, models=("ease",), data_filter=DataFilter(min_item_users=1000))
    with pytest.raises(ConfigError, match="no interaction is left in the core"):
        tune(config, TuneSettings(trials=1, out=str(tmp_path / "none")), log=logged.append)
    config = dataclasses.replace(planted, models=("ease",), data_filter=DataFilter(min_item_users=14))
    tune(config, TuneSettings(trials=1, out=str(tmp_path / "study")), log=logged.append)
    assert any(line.startswith("note: k-core (items with at least 14 users") for line in logged), logged
