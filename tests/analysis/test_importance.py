"""Importance tables, pointwise data, positive rates and the written report (tiny data).

The matrix: 30 users x 20 items; user u has 2 + u // 3 random items, so activity
grows with the user index and, with a fixed number of negatives per user, so does
the positive rate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from movierec.analysis.importance import (
    fit_pointwise,
    importance_table,
    pointwise_data,
    positive_rate_by_activity,
)
from movierec.analysis.importance_report import importance_report, rank_of, share_of
from movierec.analysis.report import markdown_table
from movierec.data.dataset import FieldKind
from movierec.data.encoded import EncodedFeatures, FeatureField
from movierec.data.interactions import csr_from_indices
from movierec.exceptions import ConfigError
from movierec.sampling import oversample_positives

N_USERS, N_ITEMS = 30, 20


def _data():
    rng = np.random.default_rng(0)
    rows, cols = [], []
    for user in range(N_USERS):
        items = rng.choice(N_ITEMS, size=2 + user // 3, replace=False)
        rows += [user] * len(items)
        cols += items.tolist()
    X = csr_from_indices(np.array(rows), np.array(cols), (N_USERS, N_ITEMS))
    year = FeatureField("year", FieldKind.ONE_HOT,
                        csr_from_indices(np.arange(N_ITEMS), np.arange(N_ITEMS) % 4, (N_ITEMS, 4)),
                        np.array(["1990", "1991", "1992", "1993"], dtype=object))
    genre = FeatureField("genre", FieldKind.MULTI_HOT,
                         csr_from_indices(np.r_[np.arange(N_ITEMS), np.arange(0, N_ITEMS, 2)],
                                          np.r_[np.zeros(N_ITEMS, int), np.ones(N_ITEMS // 2, int)],
                                          (N_ITEMS, 2)),
                         np.array(["Drama", "Comedy"], dtype=object))
    gender = FeatureField("gender", FieldKind.ONE_HOT,
                          csr_from_indices(np.arange(N_USERS), np.arange(N_USERS) % 2, (N_USERS, 2)),
                          np.array(["F", "M"], dtype=object))
    return X, EncodedFeatures({"year": year, "genre": genre}, {"gender": gender})


X, FEATURES = _data()
TINY_RERANK = {"n_candidates": 8, "iterations": 10, "depth": 3, "eval_fraction": 0.0, "n_folds": 1, "label_source": "inner",
               "inner_tail": 0, "inner_fraction": 0.3, "member_params": {"ease": {"l2": 5.0}}}


def test_pointwise_rows_hold_every_positive_and_unseen_negatives():
    frame, labels = pointwise_data(X, FEATURES, negatives_per_user=5, seed=0)
    assert labels.sum() == X.nnz and (~labels).sum() == 5 * N_USERS
    seen = np.asarray(X[frame["user_id"].to_numpy(), frame["item_id"].to_numpy()]).ravel() > 0
    np.testing.assert_array_equal(seen, labels)
    assert {"user_gender", "item_year", "genre_Drama", "genre_Comedy", "user_activity"} <= set(frame.columns)
    np.testing.assert_array_equal(frame["item_year"], 1990 + frame["item_id"] % 4)
    with pytest.raises(ConfigError):
        pointwise_data(X, FEATURES, negatives_per_user=0)


def test_positive_rate_grows_with_activity_and_oversampling_raises_it():
    frame, labels = pointwise_data(X, FEATURES, negatives_per_user=5, seed=0)
    users, activity = frame["user_id"].to_numpy(), frame["user_activity"].to_numpy()
    plain = positive_rate_by_activity(activity, labels, users, n_buckets=3)
    # positive rate of a user with a items and 5 negatives is a / (a + 5)
    assert plain["positive_rate"].is_monotonic_increasing and plain["users"].sum() == N_USERS
    assert plain["rows"].sum() == len(frame) and plain["positives"].sum() == X.nnz
    more, more_labels = oversample_positives(frame, labels, 3)
    assert more_labels.sum() == 3 * X.nnz and len(more) == len(frame) + 2 * X.nnz
    tripled = positive_rate_by_activity(more["user_activity"].to_numpy(), more_labels, more["user_id"].to_numpy(),
                                        n_buckets=3)
    assert (tripled["positive_rate"] > plain["positive_rate"]).all()


def test_importance_table_shares_and_shap():
    frame, labels = pointwise_data(X, FEATURES, negatives_per_user=5, seed=0)
    model, pool = fit_pointwise(frame, labels, iterations=10, depth=3, thread_count=1, seed=0)
    table = importance_table(model, pool, shap_rows=50, seed=0)
    assert set(table["feature"]) == set(frame.columns)
    assert table["importance"].sum() == pytest.approx(100.0, abs=1e-3)
    assert table["shap_share"].sum() == pytest.approx(100.0, abs=1e-3)
    assert table["importance"].is_monotonic_decreasing
    assert rank_of(table, table["feature"][0]) == 1 and rank_of(table, "nope") == len(table) + 1
    assert share_of(table, "nope") == 0.0


def test_importance_table_of_several_boosters_is_their_mean():
    frame, labels = pointwise_data(X, FEATURES, negatives_per_user=5, seed=0)
    first, pool = fit_pointwise(frame, labels, iterations=10, depth=3, thread_count=1, seed=0)
    second, _ = fit_pointwise(frame, labels, iterations=10, depth=3, thread_count=1, seed=1)
    alone = [importance_table(b, pool, shap_rows=50, seed=0).set_index("feature") for b in (first, second)]
    both = importance_table([first, second], pool, shap_rows=50, seed=0).set_index("feature")
    mean = (alone[0]["importance"] + alone[1]["importance"]) / 2
    np.testing.assert_allclose(both["importance"], mean[both.index], rtol=1e-6)
    # SHAP of the averaged model: the boosters' SHAP values averaged, then made absolute
    sample = pool.slice(np.sort(np.random.default_rng(0).choice(pool.num_row(), size=50, replace=False)))
    shap = (first.get_feature_importance(type="ShapValues", data=sample)
            + second.get_feature_importance(type="ShapValues", data=sample)) / 2
    expected = pd.Series(np.abs(shap[:, :-1]).mean(axis=0), index=first.feature_names_)
    np.testing.assert_allclose(both["mean_abs_shap"], expected[both.index], rtol=1e-5)
    each = (alone[0]["mean_abs_shap"] + alone[1]["mean_abs_shap"][alone[0].index]) / 2
    assert (both["mean_abs_shap"] <= each[both.index] + 1e-9).all()  # disagreements cancel
    assert not np.allclose(alone[0]["importance"], alone[1]["importance"][alone[0].index])


def test_report_end_to_end_writes_markdown_and_png(tmp_path):
    report = importance_report(X, FEATURES, reranker_params=TINY_RERANK, oversample=2, negatives_per_user=5,
                               pointwise_iterations=10, scorer=lambda model: 0.5, thread_count=1)
    assert len(report.importances) == 4 and len(report.rates) == 4
    assert set(report.recall.values()) == {0.5}
    markdown, plot = report.write(tmp_path / "report.md", tmp_path / "report.png", title="tiny")
    text = markdown.read_text()
    assert text.startswith("# tiny") and "| feature | importance |" in text and "report.png" in text
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_markdown_table_by_hand():
    table = markdown_table(pd.DataFrame({"model": ["ease"], "recall": [0.29571]}), digits=3)
    assert table.splitlines() == ["| model | recall |", "|---|---|", "| ease | 0.296 |"]


def test_report_reranker_learns_from_valid_when_given():
    """With `valid`, the report's reranker is trained as the pipeline's default one."""
    first = X.indptr[:-1]
    valid = csr_from_indices(np.arange(N_USERS), X.indices[first], X.shape)
    keep = np.ones(X.nnz, dtype=bool)
    keep[first] = False
    history = csr_from_indices(np.repeat(np.arange(N_USERS), np.diff(X.indptr))[keep], X.indices[keep], X.shape)
    params = TINY_RERANK | {"label_source": "valid", "n_folds": 3}
    report = importance_report(history, FEATURES, valid=valid, reranker_params=params, oversample=2,
                               negatives_per_user=5, pointwise_iterations=10, thread_count=1,
                               scorer=lambda model: model.labelled_by_)
    assert set(report.recall.values()) == {"valid"}
