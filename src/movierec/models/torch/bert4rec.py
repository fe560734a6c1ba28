"""BERT4Rec: a bidirectional encoder trained to fill in masked items of a user's sequence.

Sun et al., "BERT4Rec: Sequential Recommendation with Bidirectional Encoder
Representations from Transformer", CIKM 2019. A share `mask_prob` of each sequence's
items is replaced by a mask token, and the last item in half the sequences (what
recommending asks: the item after the last, with no right context), every position
attends to every other (no causal mask), and the state at a masked position predicts
its item with cross-entropy over the whole catalogue: trained unsampled, and measured
by full ranking (sampled metrics are a known trap with it). To recommend, a mask
token is appended after the last item and its state ranks every item.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from movierec.data.encoded import EncodedFeatures
from movierec.exceptions import ConfigError
from movierec.models.space import Choice, FloatRange, IntRange
from movierec.models.torch.sasrec import SASRecModule
from movierec.models.torch.sequences import SequenceRecommender


class BERT4Rec(SequenceRecommender):
    """BERT4Rec (name ``"bert4rec"``), early-stopped on validation Recall@`valid_k`.

    Parameters
    ----------
    dim, n_blocks, n_heads, max_len, dropout : as SASRec's.
    mask_prob : share of items masked per training sequence (the paper's 0.2 on ML-1M).
    epochs, batch_size, lr, weight_decay, patience, use_features, max_valid_users, n_seeds, ema_decay,
    shuffle_ties : as SASRec's (no weight averaging by default: not measured on BERT4Rec;
        ties shuffled, which validated higher on ml-100k's temporal protocol).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> X = sp.random(30, 20, density=0.3, format="csr", random_state=0, dtype=np.float32)
    >>> X.data[:] = 1
    >>> T = X.copy(); T.data = np.arange(T.nnz, dtype=np.float64)
    >>> BERT4Rec(dim=16, epochs=2, device="cpu").fit(X, timestamps=T).score(np.array([0, 1])).shape
    (2, 20)
    """

    name = "bert4rec"
    param_grid: dict = {}
    search_space = {"dim": Choice((32, 64, 128)), "n_blocks": IntRange(1, 3), "dropout": FloatRange(0.0, 0.5),
                    "lr": FloatRange(1e-4, 5e-3, log=True), "max_len": Choice((50, 100, 200)),
                    "mask_prob": FloatRange(0.1, 0.6)}

    def __init__(self, *, dim: int = 64, n_blocks: int = 2, n_heads: int = 2, max_len: int = 200,
                 dropout: float = 0.2, mask_prob: float = 0.2, epochs: int = 200, batch_size: int = 64,
                 lr: float = 1e-3, weight_decay: float = 0.0, patience: int = 10, use_features: bool = False,
                 max_valid_users: int | None = 10_000, n_seeds: int = 1, ema_decay: float = 0.0,
                 shuffle_ties: bool = True, valid_k: int = 10, random_state: int = 0, device: str = "auto") -> None:
        self.dim = dim
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.max_len = max_len
        self.dropout = dropout
        self.mask_prob = mask_prob
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
        return SASRecModule(n_items, self.dim, self.n_blocks, self.n_heads, self.max_len, self.dropout, features,
                            extra_tokens=1, causal=False, ffn_dim=4 * self.dim, activation="gelu")

    def _mask_token(self) -> int:
        return self.X_.shape[1] + 1

    def _min_length(self) -> int:
        return 1

    def _batch_loss(self, module: SASRecModule, sequences: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        real = sequences > 0
        draw = torch.rand(sequences.shape, generator=generator).to(sequences.device)
        masked = real & (draw < self.mask_prob)
        # the last item is masked in half the sequences (and whenever the draw masked none): recommending
        # asks for the item after the last, with no right context, and training must see that case
        last = torch.rand(len(sequences), generator=generator).to(sequences.device) < 0.5
        masked[last | ~masked.any(1), -1] = True
        states = module(sequences.masked_fill(masked, self._mask_token()))
        logits = states[masked] @ module.table.items().T
        return F.cross_entropy(logits, sequences[masked] - 1)

    def _last_state(self, module: SASRecModule, sequences: torch.Tensor) -> torch.Tensor:
        shifted = torch.cat([sequences[:, 1:], torch.full_like(sequences[:, :1], self._mask_token())], dim=1)
        return module(shifted)[:, -1]

    def _check_params(self) -> None:
        super()._check_params()
        if not 0.0 < self.mask_prob < 1.0 or self.dim % self.n_heads or self.n_blocks < 1:
            raise ConfigError(f"bert4rec needs mask_prob in (0, 1), dim divisible by n_heads and n_blocks >= 1; "
                              f"got mask_prob={self.mask_prob}, dim={self.dim}, n_heads={self.n_heads}")
