"""CFM and deep CFM recommenders: full ranking by item batches, or EASE candidates reranked."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from movierec.checks import is_whole_number
from movierec.data.encoded import EncodedFeatures
from movierec.exceptions import ConfigError
from movierec.models.base import init_with_defaults
from movierec.models.ease import EASE
from movierec.models.space import FloatRange
from movierec.models.torch.common import TorchRecommender, layouts_for, validation_recall
from movierec.models.torch.fm import FM
from movierec.models.torch.modules import CFMModule
from movierec.models.torch.pairs import train
from movierec.ranking import top_unseen

PAIRS_PER_FORWARD = 4096
# deep CFM's defaults where they differ from CFM's
DEEP_DEFAULTS = {"channels": 16, "depth": 6, "batch_norm": True, "activation": "leaky_relu", "residual": True}


class CFM(TorchRecommender):
    """Convolutional factorization machine (Xin et al., IJCAI 2019), trained with BPR.

    The outer products of every pair of field embeddings form an interaction cube that
    a 3D convolution stack (`depth` layers of `channels`, 2x2 windows halving the
    embedding axes) reduces to a vector; ``y = w0 + sum_f w_f + h^T conv(cube)``.
    Defaults follow the paper (FM-pretrained embeddings, 32 channels, ReLU, no batch
    norm, dropout 0.2, Adagrad, BPR) except where CPU cost forced a change: embedding
    dim 16 (paper 64), 4 layers, at most 4 epochs, and a pair-axis window of 2 instead
    of the paper's overlapping stride 1 (docs/models.md). The FM used for pretraining
    is :class:`FM` with its own defaults unless `pretrain_params` says otherwise.

    CFM cannot be split into user and item sides, so scoring runs the network on
    every (user, item) pair: over all items in batches when the catalogue has at most
    `rerank_threshold` items, otherwise on each user's `n_candidates` best EASE items
    (the others score -inf); the default threshold reranks on ml-100k's 1,682 items,
    where full ranking on a CPU costs minutes.
    """

    name = "cfm"
    param_grid: dict[str, list[Any]] = {}
    search_space = {"lr": FloatRange(1e-3, 5e-2, log=True), "reg": FloatRange(1e-6, 1e-2, log=True),
                    "dropout": FloatRange(0.0, 0.5)}

    def __init__(self, *, dim: int = 16, channels: int = 32, depth: int = 4, pair_window: int = 2,
                 batch_norm: bool = False, activation: str = "relu", residual: bool = False,
                 dropout: float = 0.2, init_std: float = 0.1, fm_term: bool = False, pretrain_fm: bool = True,
                 pretrain_params: dict | None = None, epochs: int = 4, batch_size: int = 256,
                 lr: float = 0.01, optimizer: str = "adagrad", weight_decay: float = 0.0, reg: float = 0.0,
                 loss: str = "bpr", n_negatives: int = 1, negatives: str = "uniform",
                 positive_balance: float = 0.0, pooling: str = "mean", use_features: bool = True,
                 patience: int = 2, valid_users: int | None = 300, valid_k: int = 10,
                 rerank_threshold: int = 1000, n_candidates: int = 200, ease_l2: float = 300.0,
                 probe_pairs: int = 0, random_state: int = 0, device: str = "auto", verbose: bool = False) -> None:
        self.dim = dim
        self.channels = channels
        self.depth = depth
        self.pair_window = pair_window
        self.batch_norm = batch_norm
        self.activation = activation
        self.residual = residual
        self.dropout = dropout
        self.init_std = init_std
        self.fm_term = fm_term
        self.pretrain_fm = pretrain_fm
        self.pretrain_params = pretrain_params
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.reg = reg
        self.loss = loss
        self.n_negatives = n_negatives
        self.negatives = negatives
        self.positive_balance = positive_balance
        self.pooling = pooling
        self.use_features = use_features
        self.patience = patience
        self.valid_users = valid_users
        self.valid_k = valid_k
        self.rerank_threshold = rerank_threshold
        self.n_candidates = n_candidates
        self.ease_l2 = ease_l2
        self.probe_pairs = probe_pairs
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _check_params(self) -> None:
        super()._check_params()
        for name in ("dim", "channels", "depth", "pair_window"):
            if not is_whole_number(getattr(self, name), 1):
                raise ConfigError(f"{self.name} {name} must be a whole number >= 1, got {getattr(self, name)!r}")

    def _fit(self, X: sp.csr_matrix, *, features: EncodedFeatures | None, valid: sp.csr_matrix | None,
             timestamps: sp.csr_matrix | None) -> None:
        """Train; with `probe_pairs` > 0, dead-activation shares are recorded on that many training pairs."""
        started = time.perf_counter()
        user_layouts, item_layouts = layouts_for(X, features, use_features=self.use_features, pooling=self.pooling)
        torch.manual_seed(self.random_state)
        module = CFMModule(user_layouts, item_layouts, dim=self.dim, channels=self.channels, depth=self.depth,
                           pair_window=self.pair_window, batch_norm=self.batch_norm,
                           activation=self.activation, residual=self.residual, dropout=self.dropout,
                           init_std=self.init_std, fm_term=self.fm_term)
        self.pretrained_ = None
        if self.pretrain_fm:
            settings = {"pooling": self.pooling, "use_features": self.use_features, "valid_k": self.valid_k,
                        "random_state": self.random_state, "device": self.device} | (self.pretrain_params or {})
            self.pretrained_ = FM(**settings | {"dim": self.dim}).fit(
                X, features=features, valid=valid)
            module.users.load_state_dict(self.pretrained_.module_.users.state_dict())
            module.items.load_state_dict(self.pretrained_.module_.items.state_dict())
        self.candidate_model_ = EASE(l2=self.ease_l2).fit(X) if X.shape[1] > self.rerank_threshold else None
        device = self._device()
        self.module_ = module.to(device)

        def validate() -> float:
            return validation_recall(self._score, valid, X, k=self.valid_k, max_users=self.valid_users,
                                     seed=self.random_state)

        self.train_result_ = train(module, X, self._train_config(), device=device,
                                   validate=validate if valid is not None else None,
                                   probe_batch=self._probe_batch(X, self.probe_pairs))
        self.module_ = module.to("cpu")
        self.train_seconds_ = time.perf_counter() - started

    def refit_params(self) -> dict[str, Any]:
        """Epochs early stopping chose, for CFM and for its FM pretraining."""
        params = super().refit_params()
        if getattr(self, "pretrained_", None) is not None:
            params["pretrain_params"] = (self.pretrain_params or {}) | {"epochs": self.pretrained_.best_epoch_}
        return params

    def _probe_batch(self, X: sp.csr_matrix, n_pairs: int) -> tuple[np.ndarray, np.ndarray] | None:
        if n_pairs <= 0:
            return None
        rng = np.random.default_rng(self.random_state + 1)
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        chosen = rng.choice(X.nnz, size=min(n_pairs, X.nnz), replace=False)
        return rows[chosen].astype(np.int64), X.indices[chosen].astype(np.int64)[:, None]

    @torch.no_grad()
    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Scores of given candidates: ``items[r]`` (shape (n, m)) for ``users[r]``; returns (n, m)."""
        self._check_fitted()
        module = self.module_.to(self._scoring_device()).eval()
        device = next(module.parameters()).device
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        rows_per_forward = max(1, PAIRS_PER_FORWARD // max(items.shape[1], 1))
        out = np.empty(items.shape, dtype=np.float32)
        for start in range(0, len(users), rows_per_forward):
            part = slice(start, start + rows_per_forward)
            scores, _ = module(torch.as_tensor(users[part], device=device),
                               torch.as_tensor(np.ascontiguousarray(items[part]), device=device))
            out[part] = scores.cpu().numpy()
        return out

    def interaction_scores(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The convolutional part alone for ``items[r]`` of ``users[r]`` (a collapse shows here first)."""
        module = self.module_.to(self._scoring_device()).eval()
        device = next(module.parameters()).device
        with torch.no_grad():
            user_t = torch.as_tensor(np.asarray(users, dtype=np.int64), device=device)
            item_t = torch.as_tensor(np.asarray(items, dtype=np.int64), device=device)
            user_embeddings, _ = module.users(user_t)
            item_embeddings, _ = module.items(item_t.reshape(-1))
            expanded = user_embeddings.repeat_interleave(item_t.shape[1], dim=0)
            return module.interaction(expanded, item_embeddings).view(item_t.shape).cpu().numpy()

    def _score(self, users: np.ndarray) -> np.ndarray:
        n_items = self.X_.shape[1]
        if self.candidate_model_ is None:
            return self.score_pairs(users, np.broadcast_to(np.arange(n_items), (len(users), n_items)))
        candidates, _ = top_unseen(self.candidate_model_.score(users), self.X_[users], self.n_candidates)
        scores = np.full((len(users), n_items), -np.inf, dtype=np.float32)
        rows, slots = np.nonzero(candidates >= 0)
        scores[rows, candidates[rows, slots]] = self.score_pairs(users, np.maximum(candidates, 0))[rows, slots]
        return scores


class DeepCFM(CFM):
    """CFM with a deeper, trainable stack: batch norm between conv layers, leaky ReLU, residual links.

    Same objective, parameters and scoring as :class:`CFM`; only the defaults differ
    (`DEEP_DEFAULTS`: the configuration that trained at depth 6 on ml-100k,
    docs/models.md). Without batch norm a stack of four or more layers on FM-scale
    embeddings passes almost no signal, and the diagnostics
    (:mod:`movierec.analysis.diagnostics`) show the collapse.
    """

    name = "deepcfm"
    __init__ = init_with_defaults(CFM.__init__, **DEEP_DEFAULTS)
