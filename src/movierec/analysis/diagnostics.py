"""Is a neural model learning? Score spread, gradient norms per layer, dead activations.

A model that has collapsed scores every item alike for a user (its ranking is
decided by noise or by first-order terms alone); a deep stack that cannot be
trained shows gradient norms that vanish toward the input and activation units
that are never positive. These functions read the training history recorded by
the shared torch loop and the scores of a fitted model, and
:func:`collapse_experiment` puts deep CFM with and without batch norm side by side.

This module never imports torch: it talks to the models through their methods.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

from movierec.data.encoded import EncodedFeatures

# (label, DeepCFM parameters) compared by the collapse experiment; depth is set by the caller.
COLLAPSE_CONFIGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("plain (no BN, ReLU)", {"batch_norm": False, "activation": "relu", "residual": False}),
    ("BN, ReLU", {"batch_norm": True, "activation": "relu", "residual": False}),
    ("BN, leaky ReLU, residual", {"batch_norm": True, "activation": "leaky_relu", "residual": True}),
)


def score_spread(scores: np.ndarray) -> dict[str, float]:
    """How differently a model scores items for the same user, and users for the same item.

    Parameters
    ----------
    scores : (n_users, n_items) array; -inf entries (unscored items) are ignored.

    Returns
    -------
    dict with ``item_spread`` (median over users of the std of their scores across
    items: ~0 means everything is scored alike), ``user_spread`` (median over items
    of the std across users: ~0 means no personalisation) and ``relative_spread``
    (item_spread / mean absolute score, comparable across models).

    Examples
    --------
    >>> score_spread(np.ones((3, 4)))["item_spread"]
    0.0
    """
    values = np.where(np.isfinite(scores), scores, np.nan).astype(np.float64)
    with warnings.catch_warnings():  # an item no user could score is an all-nan column: skip it quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        return _spread(values)


def _spread(values: np.ndarray) -> dict[str, float]:
    item_spread = float(np.nanmedian(np.nanstd(values, axis=1))) if values.size else 0.0
    user_spread = float(np.nanmedian(np.nanstd(values, axis=0))) if values.size else 0.0
    scale = float(np.nanmean(np.abs(values))) if values.size else 0.0
    return {"item_spread": item_spread, "user_spread": user_spread,
            "relative_spread": item_spread / scale if scale > 0 else 0.0}


def gradient_summary(history: list[dict]) -> dict[str, dict[str, float]]:
    """Per layer, the mean gradient norm in the first and the last epoch of a training history."""
    if not history:
        return {}
    first, last = history[0].get("grad_norms", {}), history[-1].get("grad_norms", {})
    return {layer: {"first_epoch": first.get(layer, 0.0), "last_epoch": last.get(layer, 0.0)} for layer in first}


def dead_summary(history: list[dict]) -> dict[str, float]:
    """Share of dead activation units per layer at the last epoch that measured it."""
    measured = [record["dead_share"] for record in history if "dead_share" in record]
    return measured[-1] if measured else {}


def collapse_experiment(
    X: sp.csr_matrix,
    valid: sp.csr_matrix,
    features: EncodedFeatures | None = None,
    *,
    depth: int = 6,
    epochs: int = 2,
    n_users: int = 100,
    n_items: int = 200,
    seed: int = 0,
    configs: tuple[tuple[str, dict[str, Any]], ...] = COLLAPSE_CONFIGS,
    model_params: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Train deep CFM of `depth` layers under each configuration and measure whether it learns.

    Embeddings start random (no FM pretraining) so that only the convolution stack can
    carry the user-item interaction. For each configuration the row holds validation
    Recall@10 per epoch (full ranking on ``valid``'s users when cheap, else EASE
    candidates as the model does), the spread of the convolutional part's scores over
    `n_items` random items for `n_users` random users, gradient norms of the first
    and last convolution block, the mean share of dead activation units, and time.

    Returns
    -------
    list of dict, one per configuration (see :func:`collapse_table` for a text table).
    """
    from movierec.models.registry import create  # models are imported only when the experiment runs

    rng = np.random.default_rng(seed)
    users = np.sort(rng.choice(X.shape[0], size=min(n_users, X.shape[0]), replace=False))
    items = rng.integers(0, X.shape[1], size=(len(users), n_items))
    rows = []
    for label, overrides in configs:
        params = {"depth": depth, "epochs": epochs, "pretrain_fm": False, "patience": epochs,
                  "probe_pairs": 512, "random_state": seed} | (model_params or {}) | overrides
        model = create("deepcfm", **params)
        started = time.perf_counter()
        model.fit(X, features=features, valid=valid)
        seconds = time.perf_counter() - started
        history = model.train_result_.history
        grads = gradient_summary(history)
        blocks = sorted((name for name in grads if name.startswith("blocks.")), key=lambda n: int(n.split(".")[1]))
        dead = dead_summary(history)
        rows.append({
            "config": label,
            "depth": depth,
            "valid_recall": [round(record.get("valid_recall", float("nan")), 4) for record in history],
            "loss": [round(record["loss"], 4) for record in history],
            "interaction_spread": score_spread(model.interaction_scores(users, items)),
            "score_spread": score_spread(model.score_pairs(users, items)),
            "grad_first_block": grads[blocks[0]]["last_epoch"] if blocks else 0.0,
            "grad_last_block": grads[blocks[-1]]["last_epoch"] if blocks else 0.0,
            "grad_embeddings": grads.get("users", {}).get("last_epoch", 0.0),
            "dead_share": float(np.mean(list(dead.values()))) if dead else 0.0,
            "seconds": round(seconds, 1),
        })
    return rows


def collapse_table(rows: list[dict[str, Any]]) -> str:
    """The collapse experiment as a markdown table."""
    header = ("| config | depth | valid R@10 per epoch | loss per epoch | conv-part spread (median std) | "
              "grad norm block 0 / last | dead units | seconds |")
    lines = [header, "|" + "---|" * 8]
    for row in rows:
        lines.append(
            f"| {row['config']} | {row['depth']} | {', '.join(f'{v:.4f}' for v in row['valid_recall'])} | "
            f"{', '.join(f'{v:.3f}' for v in row['loss'])} | {row['interaction_spread']['item_spread']:.2e} | "
            f"{row['grad_first_block']:.2e} / {row['grad_last_block']:.2e} | {row['dead_share']:.1%} | "
            f"{row['seconds']} |")
    return "\n".join(lines)

