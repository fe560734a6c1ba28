"""Search spaces: the ranges a model declares for `movierec tune` to search.

A model's ``search_space`` names, for each hyper-parameter worth tuning, a range
(on a log scale where the parameter acts multiplicatively, as a learning rate or a
regulariser does) or a set of choices. The fixed grid (`param_grid`) stays what
`movierec run` tries; a search space is what a tuner samples from, so it can be wider
and continuous. Nothing here knows the tuner: :mod:`movierec.tuning` turns a space
into Optuna's suggestions. A model may also declare a ``line_search``: one costly
parameter that `movierec run` searches by golden section instead of a grid.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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


@dataclass(frozen=True)
class LineSearch:
    """A one-dimensional search `movierec run` makes on validation instead of a grid.

    For a parameter whose every value costs a full fit and that acts multiplicatively
    (EASE's l2: one n^3 inverse per value), a golden-section search on log(value)
    brackets the optimum in `max_fits` fits where a grid pays for every point. It starts
    at `start` (the model's default, a known good value) inside [low, high].
    """

    param: str
    start: float
    low: float
    high: float
    max_fits: int = 5

    def __post_init__(self) -> None:
        _check_range(self.low, self.high, log=True)
        if not self.low < self.start < self.high:
            raise ConfigError(f"a line search over {self.param!r} starts inside {self.low}..{self.high}, "
                              f"got {self.start}")
        if self.max_fits < 1:
            raise ConfigError(f"a line search needs max_fits >= 1, got {self.max_fits}")


GOLDEN = (3 - 5 ** 0.5) / 2  # 0.382: the share of the larger segment a golden-section step probes


def golden_section(objective: Callable[[float], float], search: LineSearch) -> list[tuple[float, float]]:
    """Maximise `objective` over [search.low, search.high] on a log scale; the (value, score) probed.

    Each step probes the larger side of the bracket around the best value so far, a
    golden share into it, and shrinks the bracket to the side the best lies on, as in
    the golden steps of Brent's method. Probes are rounded to three significant figures
    (readable values, and a flat optimum's neighbours are not told apart anyway); a
    probe repeating an earlier value ends the search. The best is the first of the
    highest scores, so ties keep the earlier (the start).
    """
    low, high = math.log(search.low), math.log(search.high)
    best = math.log(search.start)
    probed = [(search.start, objective(search.start))]
    best_score = probed[0][1]
    while len(probed) < search.max_fits:
        right = high - best >= best - low
        step = GOLDEN * ((high - best) if right else (best - low))
        value = float(f"{math.exp(best + step if right else best - step):.3g}")
        if any(value == earlier for earlier, _ in probed):
            break
        score = objective(value)
        probed.append((value, score))
        if score > best_score:  # the new best: the old one bounds the bracket on its side
            low, high = (best, high) if right else (low, best)
            best, best_score = math.log(value), score
        else:  # the best stays: the probe bounds the bracket
            low, high = (low, math.log(value)) if right else (math.log(value), high)
    return probed
