"""The one epoch loop (movierec.models.torch.loop): early stopping, best state, determinism."""

from __future__ import annotations

import pytest
import scipy.sparse as sp
import torch
from torch import nn

from movierec.exceptions import ConfigError
from movierec.models.registry import create
from movierec.models.torch.loop import deterministic_algorithms, exponential_average, fit_epochs, resolve_device


def _counting_module() -> nn.Module:
    module = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(module.weight)
    return module


def test_best_epoch_is_kept_and_patience_stops_training():
    """Validation rises to epoch 3 then falls: training stops after `patience` worse
    epochs and the module ends holding epoch 3's weights (the weight counts epochs)."""
    module = _counting_module()
    curve = [0.1, 0.2, 0.5, 0.4, 0.3, 0.2, 0.1]

    def step(epoch: int) -> dict:
        assert module.training
        with torch.no_grad():
            module.weight += 1.0
        return {"loss": 1.0 / epoch}

    def validate() -> float:
        assert not module.training and not torch.is_grad_enabled()
        return curve[int(module.weight.item()) - 1]

    result = fit_epochs(module, step, epochs=7, patience=2, validate=validate,
                        inspect=lambda: {"weight": float(module.weight.item())})
    assert [record["epoch"] for record in result.history] == [1, 2, 3, 4, 5]
    assert result.best_epoch == 3 and result.best_recall == 0.5
    assert module.weight.item() == 3.0 and not module.training
    assert result.history[0] == {"epoch": 1, "loss": 1.0, "weight": 1.0, "valid_recall": 0.1}


def test_weight_averaging_validates_and_keeps_the_average_while_the_steps_train_the_network():
    """The network's weight is the epoch number after each epoch (one step each); its
    average at decay 0.5 starts at the first step's weight and halves the way to each
    new one: 1, 1.5, 2.25, 3.125. Validation reads the average and keeps its best."""
    network = _counting_module()
    averaged = exponential_average(network, 0.5)
    assert exponential_average(network, 0.0) is None
    kept = averaged.module
    seen = []

    def step(epoch: int) -> dict:
        assert network.training
        with torch.no_grad():
            network.weight += 1.0
        averaged.update_parameters(network)
        return {"loss": 0.0}

    def validate() -> float:
        assert not kept.training
        seen.append(float(kept.weight.item()))
        return [0.1, 0.3, 0.2, 0.1][len(seen) - 1]

    result = fit_epochs(kept, step, epochs=4, patience=5, validate=validate, trained=network)
    assert seen == [1.0, 1.5, 2.25, 3.125]
    assert result.best_epoch == 2 and kept.weight.item() == 1.5 and network.weight.item() == 4.0


def test_without_validation_every_epoch_runs():
    module = _counting_module()
    result = fit_epochs(module, lambda epoch: {"loss": 0.0}, epochs=4, patience=1)
    assert result.best_epoch == 4 and result.best_recall is None and len(result.history) == 4


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


def test_a_device_torch_does_not_know_or_this_machine_lacks_is_a_config_error_naming_the_model():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    missing = f"cuda:{torch.cuda.device_count()}"  # one past the last GPU (cuda:0 without any)
    X = sp.random(20, 30, density=0.3, format="csr", random_state=0)
    for device, message in (("tpu", "is not a torch device"), ("meta", "trains on auto, cpu, cuda or mps"),
                            (missing, "CUDA GPU")):
        with pytest.raises(ConfigError, match=message):
            resolve_device(device)
        with pytest.raises(ConfigError, match=f"^fm: device '{device}'"):
            create("fm", device=device, epochs=1).fit(X)
