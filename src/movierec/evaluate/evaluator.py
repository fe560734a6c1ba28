"""Batched full-ranking evaluation over every item, the known items masked.

Evaluation never imports a model: it takes a scoring function ``users -> scores``,
so anything that scores (a model, an ensemble, a file of lists) is measured alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from movierec.checks import is_whole_number
from movierec.data.interactions import users_with_items
from movierec.evaluate import metrics
from movierec.exceptions import ConfigError
from movierec.ranking import DEFAULT_BATCH, ScoreFn, recommend_batched


@dataclass(frozen=True)
class Evaluation:
    """Metrics averaged over evaluated users, and the lists they came from."""

    metrics: dict[str, float]
    users: np.ndarray  # evaluated user indices
    items: np.ndarray  # (n_users, k) recommended item indices
    scores: np.ndarray  # (n_users, k)

    def __getitem__(self, name: str) -> float:
        return self.metrics[name]


def evaluate(
    score: ScoreFn,
    truth: sp.csr_matrix,
    *,
    exclude: sp.csr_matrix | None,
    k: int = 10,
    batch_size: int = DEFAULT_BATCH,
    users: np.ndarray | None = None,
    owned: bool = False,
) -> Evaluation:
    """Rank every item for each user with hidden items in `truth`, then score the lists.

    Parameters
    ----------
    score : users -> (len(users), n_items) scores.
    truth : users x items hidden positives.
    exclude : users x items known positives, masked before ranking.
    users : defaults to every user with at least one hidden item.
    owned : `score` returns blocks the caller owns (a model's scores), masked in place.
    """
    users = users_with_items(truth) if users is None else np.asarray(users)
    items, values = recommend_batched(score, users, k, exclude=exclude, batch_size=batch_size, owned=owned)
    return evaluate_lists(items, truth, users=users, k=k, scores=values)


def sample_users(truth: sp.csr_matrix, max_users: int | None, seed: int) -> np.ndarray:
    """The users with hidden items in `truth`, or a sorted seeded sample of `max_users` of them.

    Choosing a hyper-parameter needs the difference between candidates, which the same
    sample of 10,000 users measures to well within its noise at a fraction of a full
    ranking's cost when users are many.
    """
    if max_users is not None and not is_whole_number(max_users, 0):
        raise ConfigError(f"the validation sample (max_valid_users, valid_users) must be a whole number >= 0 or none "
                          f"(0 or none: every user), got {max_users!r}")
    users = users_with_items(truth)
    if max_users and len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    return users


def evaluate_lists(
    items: np.ndarray,
    truth: sp.csr_matrix,
    *,
    users: np.ndarray,
    k: int = 10,
    scores: np.ndarray | None = None,
) -> Evaluation:
    """Score ready-made ranked lists (`items[i]` for `users[i]`; -1 pads short lists)."""
    per_metric = per_user_metrics(items, truth, users=users, k=k)
    summary = {name: float(values.mean()) if len(values) else 0.0 for name, values in per_metric.items()}
    summary[f"coverage@{k}"] = metrics.coverage(items[:, :k], truth.shape[1])
    summary["users"] = float(len(users))
    return Evaluation(summary, users, items, scores if scores is not None else np.zeros(items.shape, np.float32))


def per_user_metrics(items: np.ndarray, truth: sp.csr_matrix, *, users: np.ndarray, k: int = 10) -> dict[str, np.ndarray]:
    """Each accuracy metric of the lists, one value per user of `users` (what intervals resample)."""
    truth_rows = truth[users]
    n_relevant = np.diff(truth_rows.indptr)
    hits = metrics.hits_matrix(items[:, :k], truth_rows)
    return {
        f"recall@{k}": metrics.recall_normalized_at_k(hits, n_relevant, k),
        f"recall_plain@{k}": metrics.recall_at_k(hits, n_relevant, k),
        f"ndcg@{k}": metrics.ndcg_at_k(hits, n_relevant, k),
        f"precision@{k}": metrics.precision_at_k(hits, k),
        f"hit_rate@{k}": metrics.hit_rate_at_k(hits, k),
    }
