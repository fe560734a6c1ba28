"""Checks of the values a user hands over, shared by the configuration, the CLI, the split and the service."""

from __future__ import annotations

from typing import Any

import numpy as np


def is_positive_finite(value: Any) -> bool:
    """Whether `value` is a number above 0 and below infinity (NaN is neither): a
    regulariser's strength, say.

    Examples
    --------
    >>> is_positive_finite(300.0), is_positive_finite(0), is_positive_finite(float("nan"))
    (True, False, False)
    """
    return bool(0 < value < float("inf"))


def is_whole_number(value: Any, low: int, high: int | None = None) -> bool:
    """Whether `value` is an integer (Python's or numpy's) from `low` to `high` (inclusive).

    A bool is an int to Python and 2.0 equals 2, but neither is what a count or a seed
    written in a config file or a request means, so both are refused.

    Examples
    --------
    >>> is_whole_number(3, 1), is_whole_number(np.int64(0), 0), is_whole_number(11, 1, 10)
    (True, True, False)
    >>> is_whole_number(True, 0), is_whole_number(2.0, 1), is_whole_number("2", 1)
    (False, False, False)
    """
    return (isinstance(value, int | np.integer) and not isinstance(value, bool)
            and value >= low and (high is None or value <= high))
