"""What the torch recommenders share: layouts from features, validation, pickling, refit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from movierec.data.encoded import EncodedFeatures
from movierec.evaluate import evaluate, sample_users
from movierec.exceptions import ConfigError
from movierec.models.base import Recommender
from movierec.models.torch.fields import FieldLayout, side_layouts
from movierec.models.torch.loop import TrainResult, resolve_device
from movierec.models.torch.pairs import TrainConfig

ScoreFn = Callable[[np.ndarray], np.ndarray]


def layouts_for(
    X: sp.csr_matrix, features: EncodedFeatures | None, *, use_features: bool, pooling: str
) -> tuple[list[FieldLayout], list[FieldLayout]]:
    """User-side and item-side field layouts (ids always; side fields when asked and present)."""
    features = features if (features is not None and use_features) else EncodedFeatures()
    n_users, n_items = X.shape
    return (side_layouts("user", n_users, features.user_fields, pooling),
            side_layouts("item", n_items, features.item_fields, pooling))


def validation_recall(score: ScoreFn, valid: sp.csr_matrix, X: sp.csr_matrix, *, k: int, max_users: int | None,
                      seed: int) -> float:
    """Recall@k on `valid` with the training items masked, on at most `max_users` users (seeded)."""
    users = sample_users(valid, max_users, seed)
    return evaluate(score, valid, exclude=X, users=users, k=k, batch_size=256)[f"recall@{k}"]


class TorchRecommender(Recommender):
    """Base of the torch models: holds ``module_`` and the training result.

    Subclasses store `valid_k` (the list length early stopping measures Recall at; the
    pipeline sets the run's k), `random_state` and `device`.
    """

    module_: torch.nn.Module
    train_result_: TrainResult
    valid_k: int
    device: str

    def _train_config(self, **overrides: Any) -> TrainConfig:
        settings = {name: getattr(self, name) for name in (
            "epochs", "batch_size", "lr", "optimizer", "weight_decay", "reg", "loss", "n_negatives",
            "negatives", "positive_balance", "patience")}
        settings |= {"seed": self.random_state, "progress": self.verbose} | overrides
        return TrainConfig(**settings)

    def _device(self) -> torch.device:
        return resolve_device(self.device)

    def _scoring_device(self) -> torch.device:
        """Where a fitted model scores: its training device where this machine has it, else
        the CPU (a model trained on a GPU scores wherever its pickle loads)."""
        try:
            return resolve_device(self.device)
        except ConfigError:
            return torch.device("cpu")

    def _check_params(self) -> None:
        if self.valid_k < 1:
            raise ConfigError(f"{self.name} needs valid_k >= 1, got {self.valid_k}")
        try:
            resolve_device(self.device)
        except ConfigError as error:
            raise ConfigError(f"{self.name}: {error}") from None

    @property
    def best_epoch_(self) -> int:
        """The epoch early stopping kept; with several seeds (`train_results_`) their mean,
        what a refit trains each network for."""
        results = self.__dict__.get("train_results_") or [self.train_result_]
        return round(float(np.mean([result.best_epoch for result in results])))

    def refit_params(self) -> dict[str, Any]:
        """The epoch count early stopping chose, for a refit on train+valid without validation."""
        self._check_fitted()
        return {"epochs": self.best_epoch_}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if "module_" in state:
            state["module_"] = state["module_"].to("cpu")  # pickles load anywhere, GPU or not
        return state
