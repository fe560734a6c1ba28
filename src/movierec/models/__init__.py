"""Recommenders behind one interface (`fit`, `score`, `recommend`) and their registry."""

from movierec.models.base import Recommender
from movierec.models.registry import MODELS, create, model_names

__all__ = ["MODELS", "Recommender", "create", "model_names"]
