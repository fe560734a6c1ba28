"""Model names -> classes: what `movierec run --models a,b` can ask for.

Every model is listed statically: the single models in :mod:`movierec.models.single`,
the composite ones (reranker, ensemble) in :mod:`movierec.models.composite`. Adding to
`SINGLE_MODELS` (through `MODELS`, which writes there) makes a model known everywhere.
"""

from __future__ import annotations

import inspect
import numbers
from collections import ChainMap
from typing import Any

import numpy as np

from movierec.exceptions import ConfigError
from movierec.models.base import Recommender
from movierec.models.composite import COMPOSITE_MODELS
from movierec.models.single import SINGLE_MODELS

MODELS: ChainMap[str, type[Recommender]] = ChainMap(SINGLE_MODELS, COMPOSITE_MODELS)


def model_names() -> list[str]:
    return sorted(MODELS)


def check_model_names(models: tuple[str, ...] | list[str], sections: dict[str, Any]) -> None:
    """Refuse a model name (--models, or a config's [models.NAME] table) no model answers to,
    before any work: a misspelt table would otherwise be ignored without a word."""
    for where, names in (("--models (or [run] models)", list(models)), ("[models.NAME] in the config", list(sections))):
        unknown = [name for name in names if name not in MODELS]
        if unknown:
            raise ConfigError(f"{where}: unknown model(s) {', '.join(map(repr, unknown))}; "
                              f"available: {', '.join(sorted(MODELS))}")


def create(name: str, **params: Any) -> Recommender:
    """A new model by registry name, with hyper-parameters."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    check_param_types(name, params)
    try:
        return MODELS[name](**params)
    except TypeError as error:
        raise ConfigError(f"model {name!r}: {error}") from None


def check_param_types(name: str, params: dict[str, Any]) -> None:
    """Refuse a value whose kind differs from the parameter's default (a config's typo):
    a number for a number (a bool is not one), a bool for a bool, text for text.

    None passes where the parameter's annotation allows it. Parameters whose default is
    None or a collection are left to the model's own checks.
    """
    signature = inspect.signature(MODELS[name].__init__)
    for key, value in params.items():
        parameter = signature.parameters.get(key)
        if parameter is None or (value is None and "None" in str(parameter.annotation)):
            continue  # the constructor names an unknown parameter; None where the annotation allows it
        default = parameter.default
        boolean = isinstance(value, (bool, np.bool_))
        if isinstance(default, bool):
            fits, wanted = boolean, "true or false"
        elif isinstance(default, int):
            fits, wanted = isinstance(value, numbers.Integral) and not boolean, "a whole number"
        elif isinstance(default, float):
            fits, wanted = isinstance(value, numbers.Real) and not boolean, "a number"
        elif isinstance(default, str):
            fits, wanted = isinstance(value, str), "text"
        else:
            continue
        if not fits:
            hint = " (a {low, high} range is for `movierec tune`; `run` takes a value or a list of values)" \
                if isinstance(value, dict) else ""
            raise ConfigError(f"model {name!r}: {key} takes {wanted}, got {value!r}{hint}")
