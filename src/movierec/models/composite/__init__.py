"""Composite models: a model over the scores of member models.

- :mod:`~movierec.models.composite.members`: member specs (``"ease,recent=ease"``),
  fitting, and reuse of fits already made;
- :mod:`~movierec.models.composite.base`: the shared base, with the inner hold-out
  used when no validation labels are left;
- the reranker: :mod:`~.candidates`, :mod:`~.features` (pair features), :mod:`~.rows`
  (rows and their labels), :mod:`~.crossfit` (the boosters), :mod:`~.reranker`;
- :mod:`~movierec.models.composite.ensemble`: the blend of its members' scores
  (the score math itself lives in :mod:`movierec.ensemble`).
"""

from movierec.models.composite.ensemble import Ensemble
from movierec.models.composite.reranker import Reranker

COMPOSITE_MODELS = {model.name: model for model in (Reranker, Ensemble)}

__all__ = ["COMPOSITE_MODELS", "Ensemble", "Reranker"]
