import pytest

from movierec.config import RunConfig, config_from_dict, load_config, with_options
from movierec.exceptions import ConfigError, MovieRecError
from movierec.split import SplitSpec


def test_toml_round_trip(tmp_path):
    config = RunConfig(
        data="ml-100k", models=("pop", "ease"), seed=3, refit=False,
        split=SplitSpec("random", fraction=0.2, seed=3), params={"ease": {"l2": [100.0, 200.0]}},
    )
    path = tmp_path / "config.toml"
    path.write_text(config.to_toml())
    assert load_config(path) == config
    assert "tail" not in config.to_toml()  # what the protocol ignores is not written, so reading it back is no error
    temporal = RunConfig(split=SplitSpec("temporal", tail=3))
    path.write_text(temporal.to_toml())
    assert "fraction" not in temporal.to_toml() and load_config(path) == temporal


def test_a_run_seed_seeds_the_split_too_unless_the_split_names_its_own():
    """As --seed on the command line: one seed for both, where [split] gives none."""
    assert config_from_dict({"run": {"seed": 3}}).split.seed == 3
    assert config_from_dict({"run": {"seed": 3}, "split": {"seed": 5}}).split.seed == 5
    assert config_from_dict({"split": {"seed": 5}}).seed == 0


def test_unknown_keys_are_errors():
    with pytest.raises(ConfigError, match="unknown key"):
        config_from_dict({"run": {"modles": ["ease"]}})
    with pytest.raises(ConfigError, match="unknown section"):
        config_from_dict({"model": {}})


def test_a_models_string_or_an_unknown_model_parameter_is_an_error_naming_the_section():
    with pytest.raises(ConfigError, match=r"x.toml \[run\]: models must be a list of model names"):
        config_from_dict({"run": {"models": "pop,ease"}}, source="x.toml")
    with pytest.raises(ConfigError, match=r"x.toml \[models.ease\]: unknown key\(s\) \['l3'\]; allowed: .*'l2'"):
        config_from_dict({"models": {"ease": {"l3": 100}}}, source="x.toml")
    config_from_dict({"models": {"nosuchmodel": {"x": 1}}})  # reported where the model is asked for
    with pytest.raises(ConfigError, match=r"x.toml \[run\]: k \(--k\) must be a whole number"):
        config_from_dict({"run": {"k": "ten"}}, source="x.toml")
    with pytest.raises(ConfigError, match=r"x.toml \[split\]: .*fraction"):
        config_from_dict({"split": {"fraction": 1.5}}, source="x.toml")


def test_a_model_value_it_cannot_train_with_is_an_error_naming_the_file_and_table():
    """Checked when the file is read, each grid point as the run will try it."""
    with pytest.raises(ConfigError, match=r"x.toml \[models.ease\]: .*l2 > 0, got -5.0"):
        config_from_dict({"models": {"ease": {"l2": [300.0, -5.0]}}}, source="x.toml")
    with pytest.raises(ConfigError, match=r"x.toml \[models.ease\]: model 'ease': l2 takes a number, got 'x'"):
        config_from_dict({"models": {"ease": {"l2": "x"}}}, source="x.toml")
    config_from_dict({"models": {"ease": {"l2": [100.0, 300.0]}, "rerank": {"members": ["ease", "pop"]}}})


def test_a_split_value_the_protocol_ignores_is_an_error():
    with pytest.raises(ConfigError, match=r"x.toml \[split\]: tail = 5 has no effect under the random protocol"):
        config_from_dict({"split": {"protocol": "random", "tail": 5}}, source="x.toml")
    with pytest.raises(ConfigError, match=r"\[split\]: fraction = 0.3 has no effect under the temporal protocol"):
        config_from_dict({"split": {"protocol": "temporal", "fraction": 0.3}})
    with pytest.raises(ConfigError, match=r"--protocol random holds out by fraction only: the config's \[split\] "
                                          r"tail = 5 would be ignored"):
        with_options(config_from_dict({"split": {"tail": 5}}), protocol="random")
    # at its default it passes: earlier versions wrote every field into a run's config.toml
    assert config_from_dict({"split": {"protocol": "random", "tail": 2, "fraction": 0.2}}).split.fraction == 0.2


def test_tables_of_models_the_run_does_not_train_are_named():
    config = RunConfig(models=("pop", "ease"), params={"ease": {"l2": 300.0}, "fm": {}, "ensemble": {}})
    assert config.unused_tables() == ["fm", "ensemble"]
    assert RunConfig(models=("pop", "ease"), ensemble=True, params={"ensemble": {}}).unused_tables() == []


def test_needs_data_or_split_dir():
    with pytest.raises(ConfigError, match="--data"):
        RunConfig(data=None, split_dir=None)


def test_options_override_the_file_and_split_dir_alone_reads_no_data():
    base = RunConfig(data="ml-100k", models=("ease",), k=20)
    merged = with_options(base, split_dir="splits/x", models="pop, ease", seed=4, refit=False)
    assert merged.data is None and merged.split_dir == "splits/x"
    assert merged.models == ("pop", "ease") and merged.seed == merged.split.seed == 4
    assert merged.k == 20 and merged.refit is False
    assert with_options(base, from_file=True, split_dir="splits/x").data == "ml-100k"
    assert with_options(base, data="ml-1m", split_dir="splits/x").data == "ml-1m"
    assert with_options(base, protocol="random").split.protocol == "random"


def test_a_split_folder_takes_no_protocol_and_its_config_records_none(tmp_path):
    """The folder holds its split: --protocol beside it would be ignored, so it is refused,
    and the config a run keeps has no [split] section that did not make the split."""
    with pytest.raises(ConfigError, match="--protocol has no effect with a split folder"):
        with_options(RunConfig(), split_dir="splits/x", protocol="random")
    with pytest.raises(ConfigError, match="--protocol has no effect"):
        with_options(RunConfig(split_dir="splits/x"), from_file=True, protocol="temporal")
    folder = RunConfig(data=None, split_dir="splits/x")
    assert "[split]" not in folder.to_toml() and "[split]" in RunConfig().to_toml()
    path = tmp_path / "config.toml"
    path.write_text(folder.to_toml())
    assert load_config(path) == folder


def test_the_command_line_turns_a_files_refit_and_ensemble_either_way():
    on = RunConfig(ensemble=True)
    assert with_options(on, from_file=True).ensemble is True
    assert with_options(on, from_file=True, ensemble=False).ensemble is False
    off = RunConfig(refit=False)
    assert with_options(off, from_file=True).refit is False
    assert with_options(off, from_file=True, refit=True).refit is True


@pytest.mark.parametrize("options, message", [
    ({"seed": -1}, r"--seed\) must be a whole number >= 0, got -1"),
    ({"k": 0}, r"k \(--k\) must be a whole number >= 1, got 0"),
    ({"models": " , "}, "--models got"),
    ({"protocol": "leave-one-out"}, "protocol 'leave-one-out' unknown; expected one of"),
    ({"submission": "best"}, r"submission \(--submission\) must be one of test, all, got 'best'"),
])
def test_every_bad_option_is_one_error_naming_it(options, message):
    with pytest.raises(MovieRecError, match=message):
        with_options(RunConfig(), **options)


@pytest.mark.parametrize("document, message", [
    ({"run": {"refit": "no"}}, r"\[run\]: refit must be true or false, got 'no'"),
    ({"run": {"save_models": "false"}}, r"\[run\]: save_models must be true or false"),
    ({"run": {"out": 5}}, r"\[run\]: out must be a string, got 5"),
    ({"split": {"tail": 2.5}}, r"\[split\]: tail must be a whole number, got 2.5"),
    ({"split": {"tail": True}}, r"\[split\]: tail must be a whole number, got True"),
    ({"split": {"fraction": "0.1"}}, r"\[split\]: fraction must be a number, got '0.1'"),
    ({"run": 3}, r"run must be a table \(\[run\]\), got 3"),
    ({"models": ["pop"]}, r"models must be a table"),
])
def test_a_value_of_the_wrong_kind_is_an_error_naming_the_key(document, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(document, source="x.toml")


def test_a_filter_section_round_trips_and_the_command_line_overrides_it(tmp_path):
    from movierec.data.filters import DataFilter

    config = RunConfig(data_filter=DataFilter(min_rating=3.5, min_user_items=5))
    path = tmp_path / "config.toml"
    path.write_text(config.to_toml())
    assert "[filter]" in config.to_toml() and load_config(path) == config
    assert "[filter]" not in RunConfig().to_toml()  # nothing filtered: no section
    merged = with_options(config, min_rating=4.0, min_item_users=2)
    assert merged.data_filter == DataFilter(min_rating=4.0, min_user_items=5, min_item_users=2)
    with pytest.raises(ConfigError, match=r"x.toml \[filter\]: unknown key\(s\) \['min_ratings'\]"):
        config_from_dict({"filter": {"min_ratings": 4}}, source="x.toml")
    with pytest.raises(ConfigError, match=r"x.toml \[filter\]: min_user_items .* whole number >= 0"):
        config_from_dict({"filter": {"min_user_items": -3}}, source="x.toml")


def test_a_split_folder_takes_no_filter():
    from movierec.data.filters import DataFilter
    from movierec.split.encoded import load_encoded

    with pytest.raises(ConfigError, match="a split folder .* holds its interactions already"):
        load_encoded(data=None, data_dir=None, split_dir="anywhere", spec=SplitSpec(),
                     data_filter=DataFilter(min_rating=4))


def test_a_tune_range_is_checked_at_its_ends_and_a_choice_at_each_value():
    config_from_dict({"models": {"ease": {"l2": {"low": 10.0, "high": 1000.0, "log": True}},
                                 "ials": {"dim": {"choices": [16, 64]}}}})  # what `movierec tune` reads
    with pytest.raises(ConfigError, match=r"x.toml \[models.ease\]: ease needs a finite l2 > 0, got -1000.0"):
        config_from_dict({"models": {"ease": {"l2": {"low": -1000.0, "high": -10.0}}}}, source="x.toml")
    with pytest.raises(ConfigError, match=r"x.toml \[models.ials\]: .*dim"):
        config_from_dict({"models": {"ials": {"dim": {"choices": [16, 0]}}}}, source="x.toml")
    with pytest.raises(ConfigError, match=r"x.toml \[models.ease\]: search space of 'l2'"):
        config_from_dict({"models": {"ease": {"l2": {"low": "a", "high": 3.0}}}}, source="x.toml")
    with pytest.raises(ConfigError, match=r"x.toml \[models.ease\]: search space of 'l2': expected \{low, high"):
        config_from_dict({"models": {"ease": {"l2": {"low": 10.0, "hihg": 3.0}}}}, source="x.toml")


def test_only_a_file_that_names_its_data_set_gives_a_split_folder_side_fields(tmp_path):
    """A config without [run] data beside --split-dir reads no data set (the default one
    would describe another split's items), as --split-dir alone does."""
    from movierec.config import names_data

    named, unnamed = tmp_path / "named.toml", tmp_path / "unnamed.toml"
    named.write_text('[run]\ndata = "ml-100k"\nmodels = ["pop"]\n')
    unnamed.write_text('[run]\nmodels = ["pop"]\n')
    assert names_data(named) and not names_data(unnamed) and not names_data(tmp_path / "missing.toml")
    for path, data in ((named, "ml-100k"), (unnamed, None)):
        merged = with_options(load_config(path), from_file=names_data(path), split_dir="splits/x")
        assert merged.data == data
