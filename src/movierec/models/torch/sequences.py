"""What the sequence models (SASRec, BERT4Rec) share: users' histories as ordered sequences.

A user's sequence is their items ordered by timestamp; ties (items of one second)
are ordered by item index, so the order is stable and documented. Such a tie has no
order in time, and a split draws which of its items are "last" at random: with
``shuffle_ties`` (the default) the training sequences order each tie anew every
epoch (seeded), so a network does not learn the item-index order of ties as if it
were time's. Only the most recent `max_len` items are kept. Items are tokens
``item + 1`` (0 pads), right-aligned, so the last column is always the most recent item.

The item table the networks read and score against is built from the item id and,
with ``use_features``, every item side field (multi-hot fields such as genres mean
pooled): :class:`ItemTable`. Full ranking is one product of the last position's
state with that table, and fold-in is natural: a history the model has never seen
is scored by running its sequence through the network.
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from movierec.data.encoded import EncodedFeatures
from movierec.data.interactions import aligned_timestamps
from movierec.exceptions import ConfigError, DataError
from movierec.models.base import check_history
from movierec.models.torch import distributed
from movierec.models.torch.common import TorchRecommender, validation_recall
from movierec.models.torch.fields import FieldEmbedder, side_layouts
from movierec.models.torch.loop import (
    TrainResult,
    deterministic_algorithms,
    exponential_average,
    fit_epochs,
    seed_everything,
)

SCORE_BATCH = 512  # sequences per forward pass when scoring


def user_sequences(X: sp.csr_matrix, times: np.ndarray, max_len: int,
                   tie_key: np.ndarray | None = None) -> np.ndarray:
    """(n_users, max_len) int64 tokens: each user's most recent items, oldest first, 0-padded on the left.

    `times` is parallel to ``X.data`` (sorted indices). Ties in time keep item order,
    or the order of `tie_key` (parallel to ``X.data``) where given.

    Examples
    --------
    >>> X = sp.csr_matrix(np.array([[1, 1, 1], [0, 1, 0]], dtype=np.float32))
    >>> user_sequences(X, np.array([30.0, 10.0, 20.0, 5.0]), 2).tolist()
    [[3, 1], [0, 2]]
    """
    n_users = X.shape[0]
    sizes = np.diff(X.indptr)
    rows = np.repeat(np.arange(n_users), sizes)
    order = np.lexsort((X.indices if tie_key is None else tie_key, times, rows))  # by user, time, item
    from_end = np.empty(X.nnz, dtype=np.int64)
    from_end[order] = np.repeat(X.indptr[1:], sizes) - 1 - np.arange(X.nnz)
    keep = from_end < max_len
    sequences = np.zeros((n_users, max_len), dtype=np.int64)
    sequences[rows[keep], max_len - 1 - from_end[keep]] = X.indices[keep] + 1
    return sequences


def has_ties(X: sp.csr_matrix, times: np.ndarray) -> bool:
    """Whether some user has two items at one time (`times` parallel to ``X.data``)."""
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    order = np.lexsort((times, rows))
    rows, times = rows[order], times[order]
    return bool(((rows[1:] == rows[:-1]) & (times[1:] == times[:-1])).any())


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Row indices in batches of similar length, the batches in random order.

    Users are shuffled, then sorted by length (stable), cut into batches and the
    batches shuffled: a batch is then trimmed to its longest sequence with little
    padding left, which on MovieLens halves the work of random batches.
    """
    order = rng.permutation(len(lengths))
    order = order[np.argsort(lengths[order], kind="stable")]
    batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class ItemTable(nn.Module):
    """Token embeddings: row 0 pads (zero), rows 1..n_items the items (id plus side
    fields), then `extra` learned tokens (BERT4Rec's mask)."""

    def __init__(self, n_items: int, dim: int, features: EncodedFeatures | None, *, extra: int = 0,
                 init_std: float = 0.02) -> None:
        super().__init__()
        self.fields = FieldEmbedder(side_layouts("item", n_items, (features or EncodedFeatures()).item_fields, "mean"),
                                    dim, init_std)
        self.extra = nn.Parameter(torch.randn(extra, dim) * init_std) if extra else None
        self.register_buffer("all_items", torch.arange(n_items), persistent=False)

    def items(self) -> torch.Tensor:
        """(n_items, dim): every item's vector, the output layer scores are read against."""
        return self.fields(self.all_items)[0].sum(1)

    def forward(self) -> torch.Tensor:
        """(1 + n_items + extra, dim): the whole token table."""
        parts = [torch.zeros(1, self.fields.tables[0].embedding_dim, device=self.all_items.device), self.items()]
        return torch.cat(parts + ([self.extra] if self.extra is not None else []))


class SequenceRecommender(TorchRecommender):
    """Base of ``sasrec`` and ``bert4rec``: sequences in, the next item's scores out.

    Subclasses store their hyper-parameters and implement `_build` (the network),
    `_batch_loss` (one batch's loss) and `_last_state` (the state that scores the next
    item). The module must expose ``table`` (an :class:`ItemTable`).
    """

    # the encoders mask padding keys: left padding changes no real position's state, so
    # scoring sorts sequences by length and drops each block's padding columns
    padding_free: bool = True
    max_len: int
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    patience: int
    max_valid_users: int | None
    use_features: bool
    n_seeds: int
    ema_decay: float = 0.0  # what a model pickled before the parameter existed did
    shuffle_ties: bool = False  # likewise

    @abstractmethod
    def _build(self, n_items: int, features: EncodedFeatures | None) -> nn.Module:
        """A fresh network."""

    @abstractmethod
    def _batch_loss(self, module: nn.Module, sequences: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The training loss of a batch of (B, max_len) sequences."""

    @abstractmethod
    def _last_state(self, module: nn.Module, sequences: torch.Tensor) -> torch.Tensor:
        """(B, dim): the state that scores each sequence's next item."""

    def _fit(self, X: sp.csr_matrix, *, features: EncodedFeatures | None, valid: sp.csr_matrix | None,
             timestamps: sp.csr_matrix | None) -> None:
        if timestamps is None:
            raise DataError(f"{self.name} orders each history in time: fit it with timestamps= (the same "
                            "non-zeros as X)")
        times = aligned_timestamps(X, timestamps)
        if X.nnz > X.shape[0] and (times == times[0]).all():
            raise DataError(f"{self.name} orders each history in time, but every interaction has the same timestamp "
                            "(does the data have a time column?): its sequences would be item-index order; give the "
                            "interactions their times, or use a static model")
        self.sequences_ = user_sequences(X, times, self.max_len)
        tie_times = times if self.shuffle_ties and has_ties(X, times) else None  # None: nothing to shuffle
        device = self._device()
        self.modules_, self.train_results_ = [], []
        for offset in range(self.n_seeds):
            with deterministic_algorithms():
                seed_everything(self.random_state + offset)
                module = self._build(X.shape[1], features if self.use_features else None).to(device)
                self.train_results_.append(self._train(module, X, tie_times, valid, device,
                                                       self.random_state + offset))
            self.modules_.append(module.to("cpu").eval())
        self.module_, self.train_result_ = self.modules_[0], self.train_results_[0]

    def _train(self, module: nn.Module, X: sp.csr_matrix, tie_times: np.ndarray | None,
               valid: sp.csr_matrix | None, device: torch.device, seed: int) -> TrainResult:
        """One network trained on the sequences; with `tie_times` (X's times, where ties are to
        be shuffled) each epoch's sequences order the ties anew."""
        optimizer = torch.optim.Adam(module.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        generator = torch.Generator().manual_seed(seed)
        long_enough = (self.sequences_ > 0).sum(1) >= self._min_length()
        trainable = torch.from_numpy(self.sequences_[long_enough])
        rng = np.random.default_rng(seed)
        tie_rng = np.random.default_rng([seed, 1])  # its own stream: the batches are drawn as without it

        lengths = (trainable > 0).sum(1).numpy()
        trained = distributed.wrap(module, device)  # the module itself in one process
        averaged = exponential_average(module, self.ema_decay)
        kept = module if averaged is None else averaged.module  # what is validated and kept

        def epoch_step(_epoch: int) -> dict[str, Any]:
            nonlocal trainable
            if tie_times is not None:  # each tie in a new order (the same items in the same places otherwise)
                shuffled = user_sequences(X, tie_times, self.max_len, tie_key=tie_rng.random(X.nnz))
                trainable = torch.from_numpy(shuffled[long_enough])
            total, count = 0.0, 0
            for rows in length_batches(lengths, self.batch_size, rng):
                if len(rows) < distributed.world_size():
                    continue  # a batch too short to give every rank a sequence (only when data-parallel)
                rows = distributed.shard_rows(rows)  # this rank's part of the global batch
                batch = trainable[torch.from_numpy(rows)]
                batch = batch[:, batch.shape[1] - int(lengths[rows].max()):].to(device)  # no all-padding columns
                loss = self._batch_loss(trained, batch, generator)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if averaged is not None:
                    averaged.update_parameters(module)
                total, count = total + float(loss.detach()) * len(rows), count + len(rows)
            return {"loss": total / max(count, 1)}

        def validate() -> float:
            return validation_recall(lambda users: self._forward(kept, self.sequences_[users], device), valid, X,
                                     k=self.valid_k, max_users=self.max_valid_users, seed=self.random_state)

        result = fit_epochs(kept, epoch_step, epochs=self.epochs, patience=self.patience, trained=trained,
                            validate=distributed.main_decides(validate) if valid is not None else None)
        if averaged is not None:
            module.load_state_dict(kept.state_dict())  # the network is its kept average from here on
        return result

    def _min_length(self) -> int:
        """Shortest sequence worth a training step (SASRec needs an input and a target)."""
        return 2

    @torch.no_grad()
    def _forward(self, module: nn.Module, sequences: np.ndarray, device: torch.device) -> np.ndarray:
        """Next-item scores of (n, max_len) sequences, in blocks."""
        module.eval()
        out = np.empty((len(sequences), self.X_.shape[1]), dtype=np.float32)
        items = module.table.items()
        lengths = (sequences > 0).sum(1)
        order = np.argsort(lengths, kind="stable") if self.padding_free else np.arange(len(sequences))
        for start in range(0, len(sequences), SCORE_BATCH):
            rows = order[start:start + SCORE_BATCH]
            block = sequences[rows]
            if self.padding_free:  # one padding column stays: the next item's slot
                block = block[:, max(0, block.shape[1] - int(lengths[rows].max()) - 1):]
            state = self._last_state(module, torch.from_numpy(np.ascontiguousarray(block)).to(device))
            out[rows] = (state @ items.T).cpu().numpy()
        return out

    def _mean_scores(self, sequences: np.ndarray) -> np.ndarray:
        """The networks' next-item scores, averaged over the seeds (one network: its own)."""
        modules = self.__dict__.get("modules_") or [self.module_]  # models saved before seeds: one network
        out = self._forward(modules[0], sequences, torch.device("cpu"))
        for module in modules[1:]:
            out += self._forward(module, sequences, torch.device("cpu"))
        return out / len(modules) if len(modules) > 1 else out

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self._mean_scores(self.sequences_[users])

    def continued(self, history: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> SequenceRecommender:
        """A copy scoring known users from `history` (e.g. train+valid): the same network,
        each user's sequence rebuilt from the longer history (:class:`ContinuesSequences`)."""
        rows = check_history(self, history)
        if rows.shape[0] != self.sequences_.shape[0]:
            raise DataError(f"{self.name} continues the sequences of its {self.sequences_.shape[0]} users; the "
                            f"history has {rows.shape[0]} rows")
        longer = copy.copy(self)
        longer.X_ = rows
        longer.sequences_ = self._sequences_of(rows, timestamps)
        return longer

    def score_history(self, history: sp.csr_matrix, timestamps: sp.csr_matrix | None = None) -> np.ndarray:
        """Next-item scores for histories the model was not fitted on (fold-in).

        `timestamps` order each history; without them its items are taken in index order.
        """
        rows = check_history(self, history)
        return self._mean_scores(self._sequences_of(rows, timestamps))

    def _sequences_of(self, rows: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> np.ndarray:
        """The sequences of history rows; without timestamps their items are taken in index order."""
        times = aligned_timestamps(rows, timestamps)
        return user_sequences(rows, times if times is not None else np.zeros(rows.nnz), self.max_len)

    def _check_params(self) -> None:
        super()._check_params()
        counts = {"max_len": self.max_len, "epochs": self.epochs, "batch_size": self.batch_size,
                  "n_seeds": self.n_seeds}
        low = {name: value for name, value in counts.items() if value < 1}
        if low or self.lr <= 0:
            raise ConfigError(f"{self.name} needs max_len, epochs, batch_size, n_seeds >= 1 and lr > 0; got "
                              f"{low or self.lr}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"{self.name} ema_decay is the decay of a moving average of the weights, in "
                              f"[0, 1) (0: none); got {self.ema_decay}")
