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
    """A dimension written in a config: ``{low, high[, log]}`` or ``{choices = [...]}``.

    Integers on both ends make an integer range. Used to override or extend a
    model's declared space from ``[tune.space.MODEL]``.
    """
    if isinstance(value, dict) and set(value) == {"choices"} and isinstance(value["choices"], list):
        return Choice(tuple(value["choices"]))
    if isinstance(value, dict) and {"low", "high"} <= set(value) <= {"low", "high", "log"}:
        low, high, log = value["low"], value["high"], bool(value.get("log", False))
        if isinstance(low, int) and isinstance(high, int) and not isinstance(low, bool):
            return IntRange(low, high, log)
        return FloatRange(float(low), float(high), log)
    raise ConfigError(f"search space of {name!r}: expected {{low, high, log}} or {{choices = [...]}}, got {value!r}")
