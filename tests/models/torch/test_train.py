"""The shared training loop's determinism switch (movierec.models.torch.train)."""

from __future__ import annotations

import torch

from movierec.models.torch.train import deterministic_algorithms


def test_deterministic_kernels_inside_and_the_callers_setting_restored():
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    with deterministic_algorithms():
        assert torch.are_deterministic_algorithms_enabled()
        # the accumulating index write behind embedding backward: same bits on every call
        index = torch.randint(0, 5, (2000,), generator=torch.Generator().manual_seed(0))
        values = torch.randn(2000, 8, generator=torch.Generator().manual_seed(1))
        first = torch.zeros(5, 8).index_put_((index,), values, accumulate=True)
        second = torch.zeros(5, 8).index_put_((index,), values, accumulate=True)
        assert torch.equal(first, second)
    assert (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()) == before


def test_an_error_inside_still_restores_the_setting():
    before = torch.are_deterministic_algorithms_enabled()
    try:
        with deterministic_algorithms():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert torch.are_deterministic_algorithms_enabled() == before
