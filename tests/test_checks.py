import numpy as np
import pytest

from movierec.checks import is_whole_number


@pytest.mark.parametrize("value", [0, 1, 7, np.int32(3), np.int64(10)])
def test_integers_in_range_are_whole_numbers(value):
    assert is_whole_number(value, 0, 10)


@pytest.mark.parametrize("value", [True, False, 2.0, "2", None, np.float32(2), np.bool_(True)])
def test_other_types_are_not(value):
    assert not is_whole_number(value, 0)


def test_bounds_are_inclusive():
    assert is_whole_number(1, 1, 1)
    assert not is_whole_number(0, 1)
    assert not is_whole_number(11, 1, 10)
    assert is_whole_number(10 ** 12, 1)  # no upper bound unless given
