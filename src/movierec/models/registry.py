"""Model names -> classes: what `movierec run --models a,b` can ask for.

Every model is listed statically: the single models in :mod:`movierec.models.single`,
the composite ones (reranker, ensemble) in :mod:`movierec.models.composite`. Adding to
`SINGLE_MODELS` (through `MODELS`, which writes there) makes a model known everywhere.
"""

from __future__ import annotations

from collections import ChainMap
from typing import Any

from movierec.exceptions import ConfigError
from movierec.models.base import Recommender
from movierec.models.composite import COMPOSITE_MODELS
from movierec.models.single import SINGLE_MODELS

MODELS: ChainMap[str, type[Recommender]] = ChainMap(SINGLE_MODELS, COMPOSITE_MODELS)


def model_names() -> list[str]:
    return sorted(MODELS)


def create(name: str, **params: Any) -> Recommender:
    """A new model by registry name, with hyper-parameters."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    try:
        return MODELS[name](**params)
    except TypeError as error:
        raise ConfigError(f"model {name!r}: {error}") from None
