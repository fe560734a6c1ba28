"""Instruments for training diagnostics: per-layer gradient norms and dead activations.

A deep stack that stops learning shows it in two numbers before the metrics say
so: gradient norms that shrink layer after layer toward the input, and activation
units that are never positive (a ReLU whose unit is dead passes no gradient).
"""

from __future__ import annotations

import torch
from torch import nn


def layer_name(parameter_name: str) -> str:
    """Group parameters by layer: ``blocks.2.conv.weight`` -> ``blocks.2``, ``users.tables.0.weight`` -> ``users``."""
    parts = parameter_name.split(".")
    if parts[0] == "blocks" and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def gradient_norms(module: nn.Module) -> dict[str, float]:
    """L2 norm of the current gradient of each layer (parameters grouped by :func:`layer_name`)."""
    squares: dict[str, float] = {}
    for name, parameter in module.named_parameters():
        if parameter.grad is not None:
            key = layer_name(name)
            squares[key] = squares.get(key, 0.0) + float(parameter.grad.detach().pow(2).sum())
    return {key: value ** 0.5 for key, value in squares.items()}


class ActivationProbe:
    """Context manager hooking every ReLU / LeakyReLU of a module to record its outputs' sign.

    ``dead_shares()`` gives, per activation layer, the share of units (channel x
    position) that were never positive over the batch seen inside the context.
    """

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.alive: dict[str, torch.Tensor] = {}
        self.handles: list = []

    def __enter__(self) -> ActivationProbe:
        for name, child in self.module.named_modules():
            if isinstance(child, (nn.ReLU, nn.LeakyReLU)):
                self.handles.append(child.register_forward_hook(self._hook(name)))
        return self

    def _hook(self, name: str):
        def record(_module: nn.Module, _inputs, output: torch.Tensor) -> None:
            positive = (output > 0).flatten(1).any(0)
            self.alive[name] = positive if name not in self.alive else self.alive[name] | positive
        return record

    def __exit__(self, *_exc) -> None:
        for handle in self.handles:
            handle.remove()

    def dead_shares(self) -> dict[str, float]:
        return {name: 1.0 - float(alive.float().mean()) for name, alive in self.alive.items()}
