"""Training-pair sampling: negatives (uniform over unseen, popularity) and positive resampling."""

from movierec.sampling.negatives import popularity_negatives, uniform_negatives
from movierec.sampling.positives import PositiveSampler, oversample_positives, positive_pairs

__all__ = ["PositiveSampler", "oversample_positives", "popularity_negatives", "positive_pairs", "uniform_negatives"]
