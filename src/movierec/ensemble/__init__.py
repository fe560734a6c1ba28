"""Ensembles: per-user score normalisation, weighted blends, rank fusion, weight tuning.

The registered model (``"ensemble"``) lives in :mod:`movierec.ensemble.model`; the
registry imports it on demand.
"""

from movierec.ensemble.blend import blend
from movierec.ensemble.normalise import METHODS, normalise
from movierec.ensemble.tune import BlendChoice, tune_weights

__all__ = ["METHODS", "BlendChoice", "blend", "normalise", "tune_weights"]
