"""The one epoch loop every torch model trains in: early stopping, best state, history.

A model supplies its epoch step (one pass over its training data, returning what it
wants recorded: the loss, timings, gradient norms) and optionally a validation
measure; the loop runs epochs, measures validation Recall@k after each in eval mode,
keeps the best epoch's weights, stops after `patience` epochs without improvement and
restores the best weights at the end. The sampled-pair models (FM, CFM, deep CFM:
:mod:`movierec.models.torch.pairs`) and the autoencoders (Mult-VAE, RecVAE:
:mod:`movierec.models.torch.autoencoder`) differ only in their epoch step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from movierec import progress as live
from movierec.exceptions import ConfigError
from movierec.models.observe import epoch_observers

EpochStep = Callable[[int], dict[str, Any]]  # epoch number (1-based) -> what to record


@dataclass
class TrainResult:
    """What the loop learned: best epoch (1-based), its validation Recall@k, per-epoch history."""

    best_epoch: int
    best_recall: float | None
    history: list[dict] = field(default_factory=list)


def resolve_device(device: str) -> torch.device:
    """"auto" -> CUDA when present, else CPU; anything else a device torch has here.

    Raises
    ------
    ConfigError
        `device` is not a torch device name, or names a GPU this machine (or this
        build of torch) does not have.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device {device!r} is not a torch device; use auto, cpu, cuda or cuda:N") from None
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"device {device!r}: torch finds no CUDA GPU here (torch {torch.__version__}); "
                              "use auto or cpu")
        if resolved.index is not None and resolved.index >= count:
            raise ConfigError(f"device {device!r}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {device!r}: torch finds no Apple GPU (MPS) here; use auto or cpu")
    elif resolved.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device {device!r}: movierec trains on auto, cpu, cuda or mps")
    return resolved


def seed_everything(seed: int) -> np.random.Generator:
    """Seed torch (CPU and CUDA) and return the numpy Generator used for sampling."""
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


@contextlib.contextmanager
def deterministic_algorithms():
    """Within the block, torch picks deterministic kernels (restored afterwards).

    Some CPU backward kernels (the accumulating index writes behind the embedding
    lookups) add in thread-dependent order, so two fits with one seed would differ in
    the last bits, and anything fed their scores (a reranker) would move with them.
    ``warn_only`` keeps ops that have no deterministic version running (with a warning).
    Deterministic mode also fills every new tensor's memory with NaN by default, a
    debugging aid that changes no result of code that writes before it reads, and costs
    a pass over every new buffer: it is off here.
    """
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    fill = torch.utils.deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        torch.utils.deterministic.fill_uninitialized_memory = fill


def exponential_average(module: nn.Module, decay: float) -> AveragedModel | None:
    """A copy of `module` that tracks the exponential moving average of its weights
    (``update_parameters(module)`` after each optimizer step), or None for `decay` 0.

    The average over the recent steps' weights (about ``1 / (1 - decay)`` of them) is a
    cheap ensemble along one training run.
    """
    return AveragedModel(module, multi_avg_fn=get_ema_multi_avg_fn(decay)) if decay else None


def fit_epochs(
    module: nn.Module,
    epoch_step: EpochStep,
    *,
    epochs: int,
    patience: int,
    validate: Callable[[], float] | None = None,
    inspect: Callable[[], dict[str, Any]] | None = None,
    progress: bool = False,
    trained: nn.Module | None = None,
) -> TrainResult:
    """Train `module` in place for at most `epochs` epochs; it ends holding the best state.

    Parameters
    ----------
    epoch_step : runs one epoch (the module is in train mode) and returns the record.
    validate : validation Recall@k of the module as it is now (called in eval mode,
        without gradients); None trains for exactly `epochs` epochs.
    inspect : measurements taken in eval mode after each epoch (e.g. dead units).
    progress : show the epochs on stderr even when the command did not turn progress on.
    trained : the module the epoch step updates, where it is not `module` itself: with
        weight averaging the steps train the network and `module`, its average, is the
        one validated and kept.
    """
    with contextlib.ExitStack() as stack:
        if progress and not live.enabled():
            live.enable()
            stack.callback(live.disable)
        line = stack.enter_context(live.task(f"{type(module).__name__} epochs", total=epochs))
        return _fit_epochs(module, epoch_step, epochs=epochs, patience=patience, validate=validate,
                           inspect=inspect, line=line, trained=module if trained is None else trained)


def _fit_epochs(module: nn.Module, epoch_step: EpochStep, *, epochs: int, patience: int,
                validate: Callable[[], float] | None, inspect: Callable[[], dict[str, Any]] | None,
                line: live.Task, trained: nn.Module) -> TrainResult:
    result = TrainResult(best_epoch=epochs, best_recall=None)
    best_state, stale = None, 0
    for epoch in range(1, epochs + 1):
        trained.train()
        record = {"epoch": epoch} | epoch_step(epoch)
        trained.eval()
        module.eval()
        if inspect is not None:
            record |= inspect()
        if validate is not None:
            with torch.no_grad():
                record["valid_recall"] = recall = float(validate())
            for observer in epoch_observers():
                observer(epoch, recall)
            if result.best_recall is None or recall > result.best_recall:
                result.best_recall, result.best_epoch, stale = recall, epoch, 0
                best_state = {key: value.detach().clone() for key, value in module.state_dict().items()}
            else:
                stale += 1
        result.history.append(record)
        line.advance(description=f"{type(module).__name__} {_describe(record)}")
        if validate is not None and stale >= patience:
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    if validate is None:
        result.best_epoch = len(result.history)
    module.eval()
    return result


def _describe(record: dict) -> str:
    text = f"epoch {record['epoch']} loss {record['loss']:.4f}"
    return text + (f" valid recall {record['valid_recall']:.4f}" if "valid_recall" in record else "")
