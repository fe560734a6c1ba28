import math

import pytest

from movierec.exceptions import ConfigError
from movierec.models.space import LineSearch, golden_section


def peaked_at(peak: float):
    calls = []

    def objective(value: float) -> float:
        calls.append(value)
        return -(math.log(value) - math.log(peak)) ** 2

    return objective, calls


@pytest.mark.parametrize("peak", [30.0, 300.0, 1000.0, 4000.0])
def test_golden_section_closes_in_on_the_peak_within_its_fits(peak):
    objective, calls = peaked_at(peak)
    search = LineSearch("l2", start=300.0, low=20.0, high=5000.0, max_fits=8)
    probed = golden_section(objective, search)
    assert len(calls) == len(probed) <= 8
    assert probed[0][0] == 300.0  # starts at the default
    best = max(probed, key=lambda pair: pair[1])[0]
    assert abs(math.log(best / peak)) < 0.55  # a few golden steps from 5000/20 down to a factor 1.7
    assert all(20.0 <= value <= 5000.0 for value, _ in probed)


def test_more_fits_never_end_further_from_the_peak():
    gaps = []
    for fits in range(1, 9):
        objective, _ = peaked_at(1000.0)
        probed = golden_section(objective, LineSearch("l2", 300.0, 20.0, 5000.0, max_fits=fits))
        gaps.append(abs(math.log(max(probed, key=lambda pair: pair[1])[0] / 1000.0)))
    assert gaps == sorted(gaps, reverse=True) and gaps[-1] < gaps[0]


def test_a_flat_objective_keeps_the_start():
    probed = golden_section(lambda value: 0.5, LineSearch("l2", 300.0, 20.0, 5000.0))
    assert max(probed, key=lambda pair: pair[1])[0] == 300.0
    assert len({value for value, _ in probed}) == len(probed)  # no value fitted twice


@pytest.mark.parametrize("kwargs", [dict(start=10.0, low=20.0, high=50.0), dict(start=30.0, low=0.0, high=50.0),
                                    dict(start=30.0, low=20.0, high=50.0, max_fits=0)])
def test_a_line_search_outside_its_range_is_refused(kwargs):
    with pytest.raises(ConfigError):
        LineSearch("l2", **kwargs)
