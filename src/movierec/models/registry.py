"""Model names -> classes: what `movierec run --models a,b` can ask for."""

from __future__ import annotations

from typing import Any

from movierec.exceptions import ConfigError
from movierec.models.base import Recommender
from movierec.models.dlae import DLAE
from movierec.models.ease import EASE
from movierec.models.popularity import Popularity

# Modules that register more models when imported; absent ones are skipped.
OPTIONAL_MODULES = ("movierec.models.torch", "movierec.models.reranker", "movierec.ensemble.model")

MODELS: dict[str, type[Recommender]] = {cls.name: cls for cls in (Popularity, EASE, DLAE)}


def register(cls: type[Recommender]) -> type[Recommender]:
    """Add a model class to the registry (usable as a decorator)."""
    MODELS[cls.name] = cls
    return cls


def model_names() -> list[str]:
    _load_optional()
    return sorted(MODELS)


def create(name: str, **params: Any) -> Recommender:
    """A new model by registry name, with hyper-parameters."""
    _load_optional()
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    try:
        return MODELS[name](**params)
    except TypeError as error:
        raise ConfigError(f"model {name!r}: {error}") from None


def _load_optional() -> None:
    """Import models with heavy dependencies (torch, catboost) only when asked for."""
    import importlib

    for module in OPTIONAL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            # absent: the module or a package above it (movierec.ensemble for
            # movierec.ensemble.model); a missing dependency *inside* it still raises
            if error.name is None or not (module == error.name or module.startswith(error.name + ".")):
                raise
