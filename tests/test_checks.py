import numpy as np
import pytest

from movierec.checks import is_positive_finite, is_whole_number
from movierec.exceptions import ConfigError
from movierec.models.registry import create


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


@pytest.mark.parametrize("value, expected", [(300.0, True), (1e-9, True), (np.float32(5), True), (0, False),
                                             (-1.0, False), (float("inf"), False), (float("nan"), False)])
def test_positive_finite_refuses_zero_infinity_and_nan(value, expected):
    assert is_positive_finite(value) is expected


@pytest.mark.parametrize("name, param", [("ease", "l2"), ("dlae", "l2"), ("userease", "l2"), ("hybridease", "l2"),
                                         ("hybridease", "user_l2")])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0.0])
def test_item_and_user_ease_refuse_a_regulariser_that_is_not_positive_and_finite(name, param, value):
    with pytest.raises(ConfigError, match="finite"):
        create(name, **{param: value}).check_params()
