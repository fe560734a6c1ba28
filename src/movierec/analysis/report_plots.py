"""The report's figures, each a PNG (bytes).

Figures are made with matplotlib's object API (`Figure`, no pyplot): no global
backend is switched for whoever imports this, and no figure is kept in pyplot's
registry, so drawing works without a screen and from any thread.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import scipy.sparse as sp
from matplotlib.figure import Figure

from movierec.analysis.run_lists import ScoredLists

BUCKETS = 5


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _axes(height: float = 3.6):
    figure = Figure(figsize=(6.4, height))
    return figure, figure.subplots()


def quantile_buckets(values: np.ndarray, n: int = BUCKETS) -> tuple[np.ndarray, list[str]]:
    """Bucket of each value by its quantiles (ties kept together), and each bucket's range."""
    edges = np.unique(np.quantile(values, np.linspace(0, 1, n + 1)))
    bucket = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, max(len(edges) - 2, 0))
    labels = [f"{edges[i]:.0f}-{edges[i + 1]:.0f}" for i in range(max(len(edges) - 1, 1))] if len(edges) > 1 else \
        [f"{edges[0]:.0f}"]
    return bucket, labels


def by_user_activity(lists: list[ScoredLists], history_lengths: np.ndarray, metric: str) -> bytes:
    """`metric` per bucket of history length (one line per model)."""
    bucket, labels = quantile_buckets(history_lengths)
    figure, axis = _axes()
    for scored in lists:
        values = scored.per_user[metric]
        means = [float(np.mean(values[bucket == b])) if (bucket == b).any() else np.nan for b in range(len(labels))]
        axis.plot(labels, means, marker="o", label=scored.label)
    axis.set(xlabel="history length (items, quantile buckets)", ylabel=metric, title=f"{metric} by user activity")
    axis.legend(fontsize="small")
    axis.grid(alpha=0.3)
    return png(figure)


def by_item_popularity(lists: list[ScoredLists], test: sp.csr_matrix, popularity: np.ndarray) -> bytes:
    """Share of hidden test items found in the top k, per bucket of the item's popularity."""
    figure, axis = _axes()
    labels: list[str] = []
    for scored in lists:
        hidden = sp.csr_matrix(test[scored.users], dtype=bool).tocoo()
        rows = np.repeat(np.arange(len(scored.users)), scored.items.shape[1])
        keep = scored.items.ravel() >= 0
        listed = sp.csr_matrix((np.ones(keep.sum(), bool), (rows[keep], scored.items.ravel()[keep])), shape=hidden.shape)
        found = np.asarray(listed[hidden.row, hidden.col]).ravel()
        bucket, labels = quantile_buckets(popularity[hidden.col])
        shares = [found[bucket == b].mean() if (bucket == b).any() else np.nan for b in range(len(labels))]
        axis.plot(labels, shares, marker="o", label=scored.label)
    axis.set(xlabel="item popularity (users in the history, quantile buckets of hidden items)",
             ylabel="share of hidden items found", title="hidden items found, by item popularity")
    axis.legend(fontsize="small")
    axis.grid(alpha=0.3)
    return png(figure)


def popularity_distribution(lists: list[ScoredLists], history_popularity: np.ndarray,
                            popularity: np.ndarray) -> bytes:
    """Distribution of the recommended items' popularity against the histories' items."""
    figure, axis = _axes()
    top = max(float(popularity.max()), 1.0)
    bins = np.logspace(0, np.log10(top + 1), 30)
    axis.hist(history_popularity + 1, bins=bins, density=True, histtype="stepfilled", alpha=0.25, color="grey",
              label="histories")
    for scored in lists:
        listed = scored.items[scored.items >= 0]
        if not len(listed):  # a list file naming no known item: nothing to draw (a density of nothing)
            continue
        axis.hist(popularity[listed] + 1, bins=bins, density=True, histtype="step", linewidth=1.5, label=scored.label)
    axis.set_xscale("log")
    axis.set(xlabel="item popularity + 1 (users, log scale)", ylabel="density",
             title="recommended popularity against the histories'")
    axis.legend(fontsize="small")
    return png(figure)


def validation_curve(model: str, trials: list[dict[str, Any]], curve: list[dict[str, Any]], metric: str) -> bytes | None:
    """Validation `metric` along the model's one tuned numeric quantity (lines per other choice),
    or along the epochs of its chosen fit; None when there is neither."""
    varying = [key for key in (trials[0]["params"] if trials else {})
               if len({repr(t["params"][key]) for t in trials}) > 1]
    numeric = [key for key in varying if all(isinstance(t["params"][key], (int, float)) for t in trials)]
    if len(trials) > 1 and numeric:
        x_key = max(numeric, key=lambda key: len({t["params"][key] for t in trials}))
        others = [key for key in varying if key != x_key]
        figure, axis = _axes()
        groups: dict[str, list[dict]] = {}
        for trial in trials:
            groups.setdefault(", ".join(f"{key}={trial['params'][key]}" for key in others), []).append(trial)
        for name, group in groups.items():
            group = sorted(group, key=lambda t: t["params"][x_key])
            axis.plot([t["params"][x_key] for t in group], [t[metric] for t in group], marker="o", label=name or None)
        if len({t["params"][x_key] for t in trials}) > 2 and min(t["params"][x_key] for t in trials) > 0:
            axis.set_xscale("log")
        axis.set(xlabel=x_key, ylabel=f"validation {metric}", title=f"{model}: validation {metric} by {x_key}")
        if others:
            axis.legend(fontsize="small")
        axis.grid(alpha=0.3)
        return png(figure)
    epochs = [record for record in curve if "valid_recall" in record]
    if len(epochs) > 1:
        figure, axis = _axes()
        axis.plot([r["epoch"] for r in epochs], [r["valid_recall"] for r in epochs], marker=".")
        axis.set(xlabel="epoch", ylabel="validation recall", title=f"{model}: validation recall by epoch")
        axis.grid(alpha=0.3)
        return png(figure)
    return None


def ensemble_weights(weights: dict[str, float]) -> bytes:
    figure, axis = _axes(3.0)
    names = list(weights)
    axis.bar(names, [weights[name] for name in names])
    axis.set(ylabel="weight", title="ensemble weights (chosen on validation)")
    axis.grid(alpha=0.3, axis="y")
    return png(figure)
