"""The feature-importance and imbalance report: reranker and pointwise classifier, with
and without positive oversampling, as a markdown file and a PNG plot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.analysis.importance import (
    fit_pointwise,
    importance_table,
    pointwise_data,
    positive_rate_by_activity,
)
from movierec.analysis.report import plot_importances, write_markdown
from movierec.data.encoded import EncodedFeatures
from movierec.models.composite.features import USER_ID
from movierec.models.composite.reranker import Reranker
from movierec.models.composite.rows import GROUP
from movierec.sampling import oversample_positives

Scorer = Callable[[Any], float]  # fitted model -> Recall@10 on held-out data


@dataclass
class ImportanceReport:
    """Tables of one report; `recall` maps a setting to its Recall@10 (when measured)."""

    importances: dict[str, pd.DataFrame] = field(default_factory=dict)
    rates: dict[str, pd.DataFrame] = field(default_factory=dict)
    recall: dict[str, float] = field(default_factory=dict)

    def write(self, markdown: Path | str, plot: Path | str, *, title: str, top: int = 15) -> tuple[Path, Path]:
        """The markdown file (tables, plot path) and the PNG plot."""
        plot_path = plot_importances(plot, self.importances, self.rates, top=top)
        sections: dict[str, Any] = {"Plot": f"![importances]({Path(plot).name})"}
        if self.recall:
            sections["Recall@10 by setting"] = pd.DataFrame(
                {"setting": list(self.recall), "recall@10": list(self.recall.values())}
            )
        sections |= {f"Positive rate per activity bucket: {k}": v for k, v in self.rates.items()}
        sections |= {f"Importances: {k}": v.head(top) for k, v in self.importances.items()}
        return write_markdown(markdown, title, sections), plot_path


def importance_report(
    X: sp.csr_matrix,
    features: EncodedFeatures | None,
    *,
    timestamps: sp.csr_matrix | None = None,
    valid: sp.csr_matrix | None = None,
    reranker_params: dict[str, Any] | None = None,
    oversample: int = 4,
    negatives_per_user: int = 100,
    pointwise_iterations: int = 200,
    scorer: Scorer | None = None,
    thread_count: int = 2,
    seed: int = 0,
) -> ImportanceReport:
    """Fit the reranker and the pointwise classifier, each plain and with positives
    repeated `oversample` times, and collect importances, positive rates and recalls.

    Parameters
    ----------
    X : the training history (users x items).
    valid : held-out positives of the same users; given, the reranker learns from them
        as it does by default in the pipeline (``label_source="valid"``), else from an
        inner hold-out of `X`.
    reranker_params : keyword arguments of :class:`~movierec.models.composite.reranker.Reranker`.
    scorer : optional; given a fitted model it returns its Recall@10 on held-out
        data, so the effect of oversampling on recall is reported too.
    """
    report = ImportanceReport()
    params = dict(reranker_params or {}) | {"thread_count": thread_count, "random_state": seed}
    for factor in (1, oversample):
        model = Reranker(**params | {"positive_oversample": factor}).fit(X, features=features, timestamps=timestamps,
                                                                          valid=valid)
        label = f"reranker ({model.loss}, positives x{factor})"
        report.importances[label] = importance_table(
            model.boosters_, model.training_pool(), groups=model.training_frame_[GROUP].to_numpy(), seed=seed
        )
        frame, labels = oversample_positives(model.training_frame_, model.training_labels_, factor)
        report.rates[f"reranker candidates, x{factor}"] = positive_rate_by_activity(
            frame["user_activity"].to_numpy(), labels, frame[USER_ID].to_numpy()
        )
        if scorer is not None:
            report.recall[label] = scorer(model)
    frame, labels = pointwise_data(X, features, negatives_per_user=negatives_per_user, seed=seed)
    for factor in (1, oversample):
        classifier, pool = fit_pointwise(frame, labels, positive_oversample=factor, iterations=pointwise_iterations,
                                         thread_count=thread_count, seed=seed)
        label = f"pointwise classifier (Logloss, positives x{factor})"
        report.importances[label] = importance_table(classifier, pool, seed=seed)
        sampled, sampled_labels = oversample_positives(frame, labels, factor)
        report.rates[f"pointwise rows, x{factor}"] = positive_rate_by_activity(
            sampled["user_activity"].to_numpy(), sampled_labels, sampled["user_id"].to_numpy()
        )
    return report


def share_of(table: pd.DataFrame, feature: str) -> float:
    """Importance (in %) of one feature in an importance table; 0 if absent."""
    row = table.loc[table["feature"] == feature, "importance"]
    return float(row.iloc[0]) if len(row) else 0.0


def rank_of(table: pd.DataFrame, feature: str) -> int:
    """1-based position of `feature` in an importance table (len + 1 if absent)."""
    hits = np.flatnonzero(table["feature"].to_numpy() == feature)
    return int(hits[0]) + 1 if len(hits) else len(table) + 1
