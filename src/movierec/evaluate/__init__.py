"""Full-ranking evaluation: pure metric functions, the batched evaluator, and how sure a figure is
(bootstrap intervals, paired comparisons, leaderboard risk; beyond-accuracy metrics in `beyond`)."""

from movierec.evaluate.evaluator import Evaluation, evaluate, evaluate_lists, per_user_metrics, sample_users
from movierec.evaluate.metrics import coverage, hits_matrix, ndcg_at_k, recall_at_k, recall_normalized_at_k

__all__ = [
    "Evaluation",
    "coverage",
    "evaluate",
    "evaluate_lists",
    "hits_matrix",
    "ndcg_at_k",
    "per_user_metrics",
    "recall_at_k",
    "recall_normalized_at_k",
    "sample_users",
]
