import pytest

from movierec.config import RunConfig, config_from_dict, load_config
from movierec.exceptions import ConfigError
from movierec.split import SplitSpec


def test_toml_round_trip(tmp_path):
    config = RunConfig(
        data="ml-100k", models=("pop", "ease"), seed=3, refit=False,
        split=SplitSpec("random", 1, 0.2, 3), params={"ease": {"l2": [100.0, 200.0]}},
    )
    path = tmp_path / "config.toml"
    path.write_text(config.to_toml())
    assert load_config(path) == config


def test_unknown_keys_are_errors():
    with pytest.raises(ConfigError, match="unknown key"):
        config_from_dict({"run": {"modles": ["ease"]}})
    with pytest.raises(ConfigError, match="unknown section"):
        config_from_dict({"model": {}})


def test_needs_data_or_split_dir():
    with pytest.raises(ConfigError, match="--data"):
        RunConfig(data=None, split_dir=None)
