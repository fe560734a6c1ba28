"""SASRec: causal self-attention over a user's sequence, the next item scored against every item.

Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018. Item embeddings
plus learned positions go through `n_blocks` causal self-attention blocks (pre-norm,
torch's `scaled_dot_product_attention` kernels); the state at each
position predicts the item at the next one, and the last position's state, multiplied
with the item table, ranks the whole catalogue in one product.

Two losses (`loss`):

- ``"softmax"`` (the default): cross-entropy over the full catalogue at every
  position, as RecTools' SASRec trains; exact, n_items wide, and on the ml-100k
  temporal split's validation far ahead of gBCE at the epochs a CPU allows.
- ``"gbce"``: gSASRec's generalised binary cross-entropy (Petrov & Macdonald, "gSASRec:
  Reducing Overconfidence in Sequential Recommendation Trained with Negative Sampling",
  RecSys 2023) over each position's positive and `n_negatives` items drawn uniformly
  among those the sequence does not hold:
  ``-(beta * log sigma(s+) + sum log(1 - sigma(s-)))`` with
  ``beta = alpha * (t * (1 - 1/alpha) + 1/alpha)``, ``alpha = n_negatives / (n_items - 1)``;
  ``t = 0`` is plain BCE, ``t`` near 1 removes the overconfidence that negative
  sampling causes. At most an eighth of the catalogue is drawn (`NEGATIVE_SHARE`). The negatives are shared by the positions of one sequence (a
  (B, L, k) product instead of (B, L, k, dim) embeddings), as CPU memory requires.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from movierec.data.encoded import EncodedFeatures
from movierec.exceptions import ConfigError
from movierec.models.space import Choice, FloatRange, IntRange
from movierec.models.torch.sequences import ItemTable, SequenceRecommender

LOSSES = ("softmax", "gbce")
# at most this share of the catalogue is drawn as negatives: where it is small, more would make a user's
# hidden items a large part of the negatives (gSASRec's regime, 256 of ML-1M's 3,706 items, is 7 %)
NEGATIVE_SHARE = 8  # at most 1/8 of the items


class AttentionBlock(nn.Module):
    """Pre-norm transformer block: multi-head self-attention through torch's
    `scaled_dot_product_attention` under a boolean mask of the keys each position may
    see, then a point-wise two-layer feed-forward network, each with a residual link
    and dropout."""

    def __init__(self, dim: int, n_heads: int, ffn_dim: int, dropout: float, activation: str) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.attention_norm, self.ffn_norm = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), nn.GELU() if activation == "gelu" else nn.ReLU(),
                                 nn.Dropout(dropout), nn.Linear(ffn_dim, dim))
        self.residual_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, *, keep: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        q, k, v = self.qkv(self.attention_norm(x)).view(batch, length, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)
        # no dropout on the attention weights: on the CPU it forces the kernel that materialises them
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
        x = x + self.residual_dropout(self.out(attended.transpose(1, 2).reshape(batch, length, dim)))
        return x + self.residual_dropout(self.ffn(self.ffn_norm(x)))


class SASRecModule(nn.Module):
    """(B, L) tokens -> (B, L, dim) states; position l sees only positions <= l (`causal`).

    Padding keys are masked, so a sequence's states do not depend on how much left
    padding its batch gives it: training at each batch's width and scoring at another
    give one network the same inputs.

    Positions count from the end (sequences are right-aligned), so the most recent item
    always has the same position embedding, whatever the batch's length. The feed-forward
    part is the paper's point-wise two-layer network of width `ffn_dim` (default `dim`).
    """

    def __init__(self, n_items: int, dim: int, n_blocks: int, n_heads: int, max_len: int, dropout: float,
                 features: EncodedFeatures | None, extra_tokens: int = 0, causal: bool = True,
                 ffn_dim: int | None = None, activation: str = "relu") -> None:
        super().__init__()
        self.table = ItemTable(n_items, dim, features, extra=extra_tokens)
        self.positions = nn.Embedding(max_len, dim)
        nn.init.normal_(self.positions.weight, std=0.02)
        self.blocks = nn.ModuleList(AttentionBlock(dim, n_heads, ffn_dim or dim, dropout, activation)
                                    for _ in range(n_blocks))
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.causal = causal

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        padding = tokens == 0
        x = self.table()[tokens] * (self.table.fields.tables[0].embedding_dim ** 0.5)
        x = self.dropout(x + self.positions.weight[-tokens.shape[1]:])
        x = x.masked_fill(padding.unsqueeze(-1), 0.0)
        keep = ~padding[:, None, None, :]  # (B, 1, 1, L): every position attends to real items only
        if self.causal:  # ... at or before it; a padding position to itself, so no row is all masked
            length = tokens.shape[1]
            earlier = torch.ones(length, length, dtype=torch.bool, device=tokens.device).tril()
            keep = (keep & earlier) | torch.eye(length, dtype=torch.bool, device=tokens.device)
        for block in self.blocks:
            x = block(x, keep=keep)
        return self.norm(x)


def sample_negatives(sequences: torch.Tensor, n_items: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """(B, k) item indices drawn uniformly, with replacement, among the items each sequence does not hold."""
    allowed = torch.ones(len(sequences), n_items + 1)
    allowed.scatter_(1, sequences.cpu(), 0.0)  # the sequence's items (and padding, column 0) are never drawn
    allowed[:, 0] = 0.0
    return (torch.multinomial(allowed, k, replacement=True, generator=generator) - 1).to(sequences.device)


def gbce_loss(positive: torch.Tensor, negative: torch.Tensor, beta: float) -> torch.Tensor:
    """Mean over positions of ``-(beta log sigma(s+) + sum_j log sigma(-s-_j))``."""
    return -(beta * F.logsigmoid(positive) + F.logsigmoid(-negative).sum(-1)).mean()


class SASRec(SequenceRecommender):
    """SASRec (name ``"sasrec"``), early-stopped on validation Recall@`valid_k`.

    Parameters
    ----------
    dim, n_blocks, n_heads : width, attention blocks and heads.
    max_len : items of each history kept, the most recent (200).
    dropout : on embeddings and inside the blocks.
    loss : ``"softmax"`` or ``"gbce"`` (gSASRec, with `n_negatives` and `gbce_t`).
    epochs, batch_size, lr, weight_decay, patience : Adam; with `valid`, training stops
        after `patience` epochs without a better validation Recall@`valid_k` and keeps
        the best epoch's weights.
    use_features : add every item side field (genres, year, ...) to the item embedding.
    max_valid_users : validation users scored per epoch (a seeded sample beyond it; None or 0: every one).
    n_seeds : networks trained from seeds random_state, random_state + 1, ..., each
        early-stopped on its own; scores are the mean of their logits.
    ema_decay : the network validated, kept and refitted is the exponential moving
        average of the weights after each step (this decay per step; 0: the weights
        themselves): a cheap ensemble along one run, validated above one plain network
        on ml-100k (docs/results.md).
    shuffle_ties : order the items of one second anew each epoch in the training
        sequences (seeded) instead of by item index (see :mod:`.sequences`); validated
        above the item order on ml-100k's temporal protocol (docs/results.md).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> X = sp.random(30, 20, density=0.3, format="csr", random_state=0, dtype=np.float32)
    >>> X.data[:] = 1
    >>> T = X.copy(); T.data = np.arange(T.nnz, dtype=np.float64)
    >>> SASRec(dim=16, epochs=2, device="cpu").fit(X, timestamps=T).score(np.array([0, 1])).shape
    (2, 20)
    """

    name = "sasrec"
    param_grid: dict = {}
    search_space = {"dim": Choice((32, 64, 128)), "n_blocks": IntRange(1, 3), "dropout": FloatRange(0.0, 0.5),
                    "lr": FloatRange(1e-4, 5e-3, log=True), "max_len": Choice((50, 100, 200)),
                    "ema_decay": Choice((0.0, 0.99, 0.998))}

    def __init__(self, *, dim: int = 64, n_blocks: int = 2, n_heads: int = 2, max_len: int = 200,
                 dropout: float = 0.2, loss: str = "softmax", n_negatives: int = 256, gbce_t: float = 0.75,
                 epochs: int = 200, batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 0.0,
                 patience: int = 10, use_features: bool = False, max_valid_users: int | None = 10_000,
                 n_seeds: int = 1, ema_decay: float = 0.99, shuffle_ties: bool = True, valid_k: int = 10,
                 random_state: int = 0, device: str = "auto") -> None:
        self.dim = dim
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.max_len = max_len
        self.dropout = dropout
        self.loss = loss
        self.n_negatives = n_negatives
        self.gbce_t = gbce_t
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.use_features = use_features
        self.max_valid_users = max_valid_users
        self.n_seeds = n_seeds
        self.ema_decay = ema_decay
        self.shuffle_ties = shuffle_ties
        self.valid_k = valid_k
        self.random_state = random_state
        self.device = device

    def _build(self, n_items: int, features: EncodedFeatures | None) -> SASRecModule:
        return SASRecModule(n_items, self.dim, self.n_blocks, self.n_heads, self.max_len, self.dropout, features)

    def _batch_loss(self, module: SASRecModule, sequences: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        inputs, targets = sequences[:, :-1], sequences[:, 1:]
        states = module(inputs)
        scored = (targets > 0) & (inputs > 0)
        items = module.table.items()
        if self.loss == "softmax":
            logits = states[scored] @ items.T
            return F.cross_entropy(logits, targets[scored] - 1)
        n_items = items.shape[0]
        k = max(1, min(self.n_negatives, (n_items - 1) // NEGATIVE_SHARE))
        negatives = sample_negatives(sequences, n_items, k, generator)
        positive = (states * module.table()[targets]).sum(-1)[scored]
        negative = torch.bmm(states, items[negatives].transpose(1, 2))[scored]
        alpha = k / max(n_items - 1, 1)
        beta = alpha * (self.gbce_t * (1.0 - 1.0 / alpha) + 1.0 / alpha)
        return gbce_loss(positive, negative, beta)

    def _last_state(self, module: SASRecModule, sequences: torch.Tensor) -> torch.Tensor:
        return module(sequences)[:, -1]

    def _check_params(self) -> None:
        super()._check_params()
        if self.loss not in LOSSES:
            raise ConfigError(f"sasrec loss must be one of {LOSSES}, got {self.loss!r}")
        if self.dim % self.n_heads or self.n_blocks < 1 or self.n_negatives < 1:
            raise ConfigError(f"sasrec needs dim divisible by n_heads, n_blocks >= 1 and n_negatives >= 1; got "
                              f"dim={self.dim}, n_heads={self.n_heads}, n_blocks={self.n_blocks}, "
                              f"n_negatives={self.n_negatives}")
        if not 0.0 <= self.gbce_t <= 1.0 or not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"sasrec needs gbce_t in [0, 1] and dropout in [0, 1); got {self.gbce_t}, {self.dropout}")

