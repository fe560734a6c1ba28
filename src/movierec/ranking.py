"""Top-k with masking, written once: models, the evaluator and ensembles all use it.

The selection runs through ``torch.topk`` (on every core torch is given, where numpy's
argpartition copies the block and runs on one), on a wide row after a screen by the
maxima of its column chunks, with an exact tie rule on top: the lower item index wins,
also at the k-th place. A score function whose rows are all one vector (popularity) is
a `SameRow`: its lists are read off one ordering of the items, never a block per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import nullcontext

import numpy as np
import scipy.sparse as sp
import torch

from movierec import progress as live

ScoreFn = Callable[[np.ndarray], np.ndarray]
DEFAULT_BATCH = 1024
PROGRESS_BATCHES = 8  # fewer batches than this end too soon to be worth a progress line
SCREEN_WIDTH = 64  # columns per chunk of a top-k screen
SCREEN_CHUNKS_PER_PLACE = 8  # fewer chunks per place kept than this: the screen costs more than it saves


def mask_seen(scores: np.ndarray, seen: sp.csr_matrix | None) -> np.ndarray:
    """Set scores of `seen` items to -inf in place; `seen` has one row per scores row."""
    if seen is not None and seen.nnz:
        seen = seen.tocsr()
        rows = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))
        scores[rows, seen.indices] = -np.inf
    return scores


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the k best columns per row, best first.

    Ties are broken by the lower item index, also at the k-th place (an item tied
    with the last one kept is dropped only if its index is higher), so results do
    not depend on numpy's selection algorithm. NaN scores rank below everything.

    Parameters
    ----------
    scores : (n_rows, n_cols) array.
    k : list length; lists are ``min(k, n_cols)`` long.

    Returns
    -------
    items : (n_rows, min(k, n_cols)) int64 column indices.
    values : the matching scores.

    Examples
    --------
    >>> top_k(np.array([[0.1, 0.9, 0.5]]), 2)[0].tolist()
    [[1, 2]]
    >>> top_k(np.array([[1.0, 2.0, 1.0, 1.0]]), 2)[0].tolist()
    [[1, 0]]
    """
    n_rows, n_cols = scores.shape
    k = max(0, min(k, n_cols))
    if k == 0:
        return np.empty((n_rows, 0), dtype=np.int64), np.empty((n_rows, 0), dtype=scores.dtype)
    table = _as_tensor(scores)
    cut = min(k + 1, n_cols)  # one past the cut: a tie there means the selection had to choose
    kept, part_t = _top_cut(table, cut)  # NaN counts as the largest here
    if torch.isnan(kept).any():  # so a row without NaN in its top has none at all
        table = table.masked_fill(torch.isnan(table), -np.inf)
        scores = table.numpy()
        kept, part_t = _top_cut(table, cut)
    if k < n_cols:
        # topk keeps an arbitrary subset of the items tied at the k-th score; rows
        # where some tied item was left out are redone keeping the lowest indices
        tied_out = (kept[:, k] == kept[:, k - 1]).numpy()
        part = np.ascontiguousarray(part_t[:, :k].numpy())
        if tied_out.any():
            threshold = kept[:, k - 1:k].numpy()
            part[tied_out] = _lowest_index_top(scores[tied_out], threshold[tied_out], k)
    else:
        part = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    items = np.take_along_axis(part, order, axis=1)
    return items.astype(np.int64, copy=False), np.take_along_axis(part_scores, order, axis=1)


def _top_cut(table: torch.Tensor, cut: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The `cut` best values per row and their columns, as ``torch.topk`` gives them.

    A wide row is screened first: its columns are cut into chunks, and the `cut`
    chunks with the highest maxima (plus the columns past the last whole chunk) hold
    every value above the cut-th of those maxima, so they hold the row's `cut` best
    values. One pass of maxima over the row and a top-k over a few hundred candidates
    replace the top-k over the whole row. Which of several items tied at the cut the
    candidates hold may differ from a full ``torch.topk``; `top_k` settles such ties by
    index on the full row either way.
    """
    n_rows, n_cols = table.shape
    width = SCREEN_WIDTH
    if n_cols // width < SCREEN_CHUNKS_PER_PLACE * cut or n_rows == 0:
        return torch.topk(table, cut, dim=1)
    body = n_cols // width * width
    chunks = table[:, :body].reshape(n_rows, body // width, width)
    best = torch.topk(chunks.amax(dim=2), cut, dim=1).indices  # NaN chunks count as the best
    picked = torch.gather(chunks, 1, best.unsqueeze(2).expand(n_rows, cut, width)).reshape(n_rows, cut * width)
    values, at = torch.topk(torch.cat([picked, table[:, body:]], dim=1), cut, dim=1)
    in_chunk = at < cut * width
    chunk_columns = best.gather(1, torch.where(in_chunk, at // width, 0)) * width + at % width
    return values, torch.where(in_chunk, chunk_columns, at - cut * width + body)


def _as_tensor(scores: np.ndarray) -> torch.Tensor:
    """A torch view of `scores` (a copy only for arrays torch cannot view: read-only, odd strides)."""
    if not scores.flags.writeable or any(stride < 0 for stride in scores.strides):
        scores = np.array(scores)
    return torch.from_numpy(scores)


def _lowest_index_top(scores: np.ndarray, threshold: np.ndarray, k: int) -> np.ndarray:
    """The k columns per row scoring above `threshold`, then the lowest-index ties."""
    above = scores > threshold
    at = scores == threshold
    room = k - above.sum(axis=1, keepdims=True)
    keep = above | (at & (np.cumsum(at, axis=1) <= room))
    return np.nonzero(keep)[1].reshape(len(scores), k)


def top_unseen(scores: np.ndarray, seen: sp.csr_matrix | None, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best items per row that `seen` does not hold: `(items, scores)`.

    `scores` is masked in place. Slots only seen items could fill (a user who has
    seen almost everything), and those of items scored -inf or NaN, hold item -1, so
    they never count as an item (the metrics skip -1; callers writing scores back skip
    it too).
    """
    items, values = top_k(mask_seen(scores, seen), k)
    return np.where(values > -np.inf, items, -1), values  # NaN fails the test too


def _own_block(scores: np.ndarray) -> np.ndarray:
    """`scores` (the caller's own) as a writable float32 C-ordered block, copied only where it is not one."""
    if isinstance(scores, np.ndarray) and scores.dtype == np.float32 and scores.flags.c_contiguous \
            and scores.flags.writeable:
        return scores
    return np.array(scores, dtype=np.float32, copy=True)


class SameRow:
    """A score function giving every user the same `row` of scores (popularity).

    Called, it returns the tiled block like any score function; `recommend_batched`
    instead walks the items once in score order and gives each user the first k it
    has not seen: the same lists as masking the block, at the cost of the histories.
    `check_users` validates the users asked for (raising as the model does).
    """

    def __init__(self, row: np.ndarray, check_users: Callable[[np.ndarray], np.ndarray]) -> None:
        self.row = np.asarray(row, dtype=np.float32)
        self.check_users = check_users

    def __call__(self, users: np.ndarray) -> np.ndarray:
        return np.tile(self.row, (len(self.check_users(users)), 1))


def _same_row_lists(row: np.ndarray, users: np.ndarray, k: int, exclude: sp.csr_matrix | None,
                    batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """What `recommend_batched` gives for the block `row` repeated, read off one item order.

    For each batch, the items are taken in score order (lower index first on ties, as
    `top_k` breaks them) up to a width holding k unseen items for every user; the
    first k unseen per row are the list. Rows with fewer than k unseen items in the
    whole catalogue go through the block path, whose empty slots hold item -1.
    """
    n_items = len(row)
    order = np.argsort(-row, kind="stable")
    rank = np.empty(n_items, dtype=np.int64)
    rank[order] = np.arange(n_items)
    items_out = np.empty((len(users), k), dtype=np.int64)
    scores_out = np.empty((len(users), k), dtype=np.float32)
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        items, values = items_out[start : start + len(batch)], scores_out[start : start + len(batch)]
        if exclude is None:
            items[:] = order[:k]
            values[:] = row[order[:k]]
            continue
        seen = exclude[batch].tocsr()
        seen_rank = rank[seen.indices]
        seen_row = np.repeat(np.arange(len(batch)), np.diff(seen.indptr))
        width = k
        while True:  # widen (at least doubling) until every row has k unseen items inside
            inside = seen_rank < width
            need = k + int(np.bincount(seen_row[inside], minlength=len(batch)).max(initial=0))
            if need <= width or width == n_items:
                break
            width = min(n_items, max(need, 2 * width))
        free = np.ones((len(batch), width), dtype=bool)
        free[seen_row[inside], seen_rank[inside]] = False
        full = free.sum(axis=1) >= k
        keep = free[full] & (np.cumsum(free[full], axis=1) <= k)
        items[full] = order[np.nonzero(keep)[1].reshape(-1, k)]
        values[full] = row[items[full]]
        if not full.all():
            short = np.flatnonzero(~full)
            items[short], values[short] = top_unseen(np.tile(row, (len(short), 1)), seen[short], k)
    return items_out, scores_out


def batches(users: np.ndarray, batch_size: int = DEFAULT_BATCH) -> Iterator[np.ndarray]:
    for start in range(0, len(users), batch_size):
        yield users[start : start + batch_size]


def recommend_batched(
    score: ScoreFn,
    users: np.ndarray,
    k: int,
    *,
    exclude: sp.csr_matrix | None = None,
    batch_size: int = DEFAULT_BATCH,
    owned: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k items for `users`, scoring a batch at a time so memory stays O(batch x items).

    `exclude` is a users x items matrix over all users; its rows for `users` are masked.
    Masking works in place: on a copy of each block, or with `owned` (`score` returns
    blocks nobody else holds, as ``Recommender.score`` does) on the block itself, which
    spares a copy of every score block.
    Slots that only a masked item (or one scored -inf, never recommended) could fill
    hold item -1 and score -inf, as `top_unseen` gives them.
    A `SameRow` score function is ranked from one item order (the same lists).
    With k above the number of items, the tail of each list is padded with item -1
    and score -inf (the metrics never count -1 as a hit).
    """
    users = np.asarray(users, dtype=np.int64)
    if isinstance(score, SameRow) and 0 < k < len(score.row) and np.isfinite(score.row).all():
        return _same_row_lists(score.row, score.check_users(users), k, exclude, batch_size)
    items_out = np.full((len(users), k), -1, dtype=np.int64)
    scores_out = np.full((len(users), k), -np.inf, dtype=np.float32)
    offset = 0
    n_batches = -(-len(users) // max(batch_size, 1))
    with live.task("ranking users", total=len(users)) if n_batches >= PROGRESS_BATCHES else nullcontext() as line:
        for batch in batches(users, batch_size):
            scores = _own_block(score(batch)) if owned else np.array(score(batch), dtype=np.float32, copy=True)
            items, values = top_unseen(scores, exclude[batch] if exclude is not None else None, k)
            items_out[offset : offset + len(batch), : items.shape[1]] = items
            scores_out[offset : offset + len(batch), : items.shape[1]] = values
            offset += len(batch)
            if line is not None:
                line.advance(len(batch))
    return items_out, scores_out
