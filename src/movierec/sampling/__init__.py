"""Training-pair sampling: negatives (uniform over unseen, popularity) and positive resampling."""

from movierec.sampling.negatives import popularity_negatives, uniform_negatives
from movierec.sampling.positives import PositiveSampler, positive_pairs

__all__ = ["PositiveSampler", "popularity_negatives", "positive_pairs", "uniform_negatives"]
