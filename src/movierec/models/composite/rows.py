"""The reranker's rows: one per (user, candidate), labelled by validation or an inner hold-out.

The same function builds the rows that train the booster and the rows it scores
(:func:`candidate_rows`), so the two cannot drift apart. Labels come from one of two
sources (the reranker's `label_source`):

- :func:`validation_rows`: the candidates of the members fitted on `X`, labelled with
  the validation items: exactly the rows scored at test time without a refit;
- :func:`inner_rows`: the candidates of members fitted on an inner history, labelled
  with the inner hold-out (the only labels left in a refit on train+valid).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.data.encoded import EncodedFeatures
from movierec.data.interactions import aligned_timestamps, users_with_items
from movierec.models.base import Recommender
from movierec.models.composite.base import InnerFit
from movierec.models.composite.candidates import label_pairs
from movierec.models.composite.features import ITEM_ID, USER_ID, HistoryStats, history_stats, pair_frame
from movierec.ranking import mask_seen, top_unseen

GROUP = "group"  # (inner repeat, user): CatBoost's query id
PAIR_BLOCK = 2048  # users whose dense member scores are held at once while building rows


@dataclass(frozen=True)
class CandidateSpec:
    """How candidates are made: the first member's top `n_candidates` unseen items."""

    first: str
    n_candidates: int
    recent_days: float
    knn_neighbours: int

    def stats(self, history: sp.csr_matrix, times: sp.csr_matrix | None,
              features: EncodedFeatures | None) -> HistoryStats:
        return history_stats(history, aligned_timestamps(history, times), features,
                             recent_days=self.recent_days, knn_neighbours=self.knn_neighbours)


@dataclass
class TrainingRows:
    """Feature rows, their labels (is the candidate a hidden item?) and the hidden items'
    count, in all and of each row's group (`group_hidden`, aligned with the rows)."""

    frame: pd.DataFrame
    labels: np.ndarray
    n_hidden: int
    group_hidden: np.ndarray


def candidate_rows(spec: CandidateSpec, members: dict[str, Recommender], history: sp.csr_matrix,
                   stats: HistoryStats, features: EncodedFeatures | None,
                   users: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Feature rows of every (user, candidate), indexed by position in the flattened
    (users, candidates) grid, and the (len(users), N) candidates (-1: empty slot, no row).

    Built `PAIR_BLOCK` users at a time, so memory holds a block's dense member scores,
    not every user's.
    """
    frames, blocks = [], []
    for start in range(0, max(len(users), 1), PAIR_BLOCK):  # once even for no users: same columns
        block = users[start:start + PAIR_BLOCK]
        seen = history[block]
        # every member masked, so that ranks and z-scores count unseen items only
        scores = {name: mask_seen(np.array(model.score(block), dtype=np.float32), seen)
                  for name, model in members.items()}
        items, _ = top_unseen(scores[spec.first], None, spec.n_candidates)
        frame = pair_frame(block, items, history, stats, features, scores)
        frame.index += start * items.shape[1]
        frames.append(frame[frame[ITEM_ID].to_numpy() >= 0])
        blocks.append(items)
    return pd.concat(frames), np.concatenate(blocks)


def validation_rows(spec: CandidateSpec, members: dict[str, Recommender], X: sp.csr_matrix,
                    valid: sp.csr_matrix, stats: HistoryStats, features: EncodedFeatures | None) -> TrainingRows:
    """Rows of every user with validation items: the members' candidates on `X`, labelled by `valid`."""
    users = users_with_items(valid)
    frame, items = candidate_rows(spec, members, X, stats, features, users)
    labels = label_pairs(valid[users], items).ravel()[frame.index.to_numpy()]
    frame = frame.reset_index(drop=True)
    frame[GROUP] = frame[USER_ID].to_numpy()
    return TrainingRows(frame, labels, valid[users].nnz, _hidden_of_rows(valid, frame))


def inner_rows(spec: CandidateSpec, inner: InnerFit, repeat: int) -> TrainingRows:
    """Rows of one inner hold-out: the inner members' candidates on the inner history
    (side fields as seen from it), labelled by the inner hold-out; groups of repeat r
    are offset by r x n_users."""
    stats = spec.stats(inner.history, inner.history_times, inner.features)
    users = users_with_items(inner.holdout)
    frame, items = candidate_rows(spec, inner.members, inner.history, stats, inner.features, users)
    labels = label_pairs(inner.holdout[users], items).ravel()[frame.index.to_numpy()]
    frame = frame.reset_index(drop=True)
    frame[GROUP] = frame[USER_ID].to_numpy() + repeat * inner.history.shape[0]
    return TrainingRows(frame, labels, inner.holdout.nnz, _hidden_of_rows(inner.holdout, frame))


def _hidden_of_rows(hidden: sp.csr_matrix, frame: pd.DataFrame) -> np.ndarray:
    """The number of hidden items of each row's user."""
    return np.diff(hidden.indptr)[frame[USER_ID].to_numpy()]


def stacked(rows: list[TrainingRows]) -> TrainingRows:
    """Several row sets as one (the inner repeats)."""
    return TrainingRows(pd.concat([r.frame for r in rows], ignore_index=True),
                        np.concatenate([r.labels for r in rows]), sum(r.n_hidden for r in rows),
                        np.concatenate([r.group_hidden for r in rows]))
