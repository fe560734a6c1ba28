"""Search spaces: the ranges a model declares for `movierec tune` to search.

A model's ``search_space`` names, for each hyper-parameter worth tuning, a range
(on a log scale where the parameter acts multiplicatively, as a learning rate or a
regulariser does) or a set of choices. The fixed grid (`param_grid`) stays what
`movierec run` tries; a search space is what a tuner samples from, so it can be wider
and continuous. Nothing here knows the tuner: :mod:`movierec.tuning` turns a space
into Optuna's suggestions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from movierec.exceptions import ConfigError


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        _check_range(self.low, self.high, self.log)


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    log: bool = False

    def __post_init__(self) -> None:
        _check_range(self.low, self.high, self.log)


@dataclass(frozen=True)
class Choice:
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ConfigError("a choice needs at least one value")


Dimension = FloatRange | IntRange | Choice


def _check_range(low: float, high: float, log: bool) -> None:
    if not low < high:
        raise ConfigError(f"a range needs low < high, got {low}..{high}")
    if log and low <= 0:
        raise ConfigError(f"a log-scale range needs low > 0, got {low}")


def dimension_from_toml(name: str, value: Any) -> Dimension:
    """A dimension written in a config's [models.NAME] table: ``{low, high[, log]}`` or
    ``{choices = [...]}``. Integers on both ends make an integer range.

    Examples
    --------
    >>> dimension_from_toml("lr", {"low": 1e-4, "high": 1e-2, "log": True})
    FloatRange(low=0.0001, high=0.01, log=True)
    """
    if isinstance(value, dict) and set(value) == {"choices"} and isinstance(value["choices"], list):
        if not value["choices"]:
            raise ConfigError(f"search space of {name!r}: choices must name at least one value")
        return Choice(tuple(value["choices"]))
    if isinstance(value, dict) and {"low", "high"} <= set(value) <= {"low", "high", "log"}:
        low, high, log = value["low"], value["high"], value.get("log", False)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)) \
                or not isinstance(log, bool):
            raise ConfigError(f"search space of {name!r}: low and high must be numbers and log true or false, "
                              f"got {value!r}")
        try:
            if isinstance(low, int) and isinstance(high, int):
                return IntRange(low, high, log)
            return FloatRange(float(low), float(high), log)
        except ConfigError as error:
            raise ConfigError(f"search space of {name!r}: {error}") from None
    raise ConfigError(f"search space of {name!r}: expected {{low, high, log}} or {{choices = [...]}}, got {value!r}")
