"""Full-ranking evaluation: pure metric functions and the batched evaluator."""

from movierec.evaluate.evaluator import Evaluation, evaluate, evaluate_lists
from movierec.evaluate.metrics import coverage, hits_matrix, ndcg_at_k, recall_at_k, recall_normalized_at_k

__all__ = [
    "Evaluation",
    "coverage",
    "evaluate",
    "evaluate_lists",
    "hits_matrix",
    "ndcg_at_k",
    "recall_at_k",
    "recall_normalized_at_k",
]
