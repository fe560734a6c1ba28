"""Score math for ensembles: per-user normalisation, weighted blends, rank fusion, weight search.

Nothing here imports a model: it works on score blocks. The ensemble *model* that fits
members and blends them is :class:`movierec.models.composite.ensemble.Ensemble`.
"""

from movierec.ensemble.blend import blend
from movierec.ensemble.normalise import METHODS, normalise
from movierec.ensemble.tune import BlendChoice, tune_weights

__all__ = ["METHODS", "BlendChoice", "blend", "normalise", "tune_weights"]
