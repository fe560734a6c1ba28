"""Recommenders behind one interface (`fit`, `score`, `recommend`).

The registry (:mod:`movierec.models.registry`: `create`, `MODELS`) imports every model,
torch ones included; importing this package alone does not.
"""

from movierec.models.base import Recommender

__all__ = ["Recommender"]
