"""What drives a CatBoost recommender: importances, SHAP values, and the imbalance behind them.

In the competition this library comes from, a pointwise classifier over (user id,
item id, side features) ranked the *user id* as its most important feature: with a
fixed number of rows per user, the share of positives grows with the user's
activity, so the id mostly predicts "this user has many positives", which says
nothing about *which* item to recommend. This module measures that:

- :func:`importance_table`: CatBoost's PredictionValuesChange importance and the
  mean absolute SHAP value (CatBoost's own TreeSHAP) of every feature;
- :func:`pointwise_data` / :func:`fit_pointwise`: the pointwise user/item/side-field
  classifier, rows = every positive plus a fixed number of unseen items per user;
- :func:`positive_rate_by_activity`: the positive rate per user-activity bucket.
The report writer is :mod:`movierec.analysis.report`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.data.encoded import EncodedFeatures
from movierec.exceptions import ConfigError
from movierec.models.composite.features import categorical_columns, numeric_values, one_hot_codes
from movierec.sampling import oversample_positives, positive_pairs, uniform_negatives


def importance_table(
    booster, pool, *, groups: np.ndarray | None = None, shap_rows: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Importance of each feature of a fitted CatBoost model, largest first.

    Columns: ``importance`` (PredictionValuesChange, sums to 100), ``mean_abs_shap``
    over about `shap_rows` rows of `pool` drawn with `seed`, and ``shap_share`` (its
    share of the total, in %), so the two rankings can be compared. For a grouped
    (ranking) pool pass its `groups`: whole groups are drawn, as CatBoost requires.
    `booster` may be a list of models over the same features (a cross-fitted
    reranker's boosters, whose predictions are averaged): the SHAP values are then
    those of that average (SHAP is additive: the mean of the boosters' SHAP values,
    taken before the absolute value, so boosters that disagree cancel), and
    ``importance`` is the boosters' mean PredictionValuesChange.
    """
    boosters = list(booster) if isinstance(booster, (list, tuple)) else [booster]
    names = boosters[0].feature_names_
    importance = np.mean([b.get_feature_importance(type="PredictionValuesChange") for b in boosters], axis=0)
    rng = np.random.default_rng(seed)
    n_rows = pool.num_row()
    if groups is None:
        rows = np.sort(rng.choice(n_rows, size=min(shap_rows, n_rows), replace=False))
    else:
        unique, sizes = np.unique(groups, return_counts=True)
        n_groups = max(1, int(round(len(unique) * min(1.0, shap_rows / n_rows))))
        rows = np.flatnonzero(np.isin(groups, rng.choice(unique, size=min(n_groups, len(unique)), replace=False)))
    sample = pool.slice(rows)
    shap = np.mean([np.asarray(b.get_feature_importance(type="ShapValues", data=sample)) for b in boosters], axis=0)
    mean_abs = np.abs(shap[:, : len(names)]).mean(axis=0)
    table = pd.DataFrame({"feature": names, "importance": importance, "mean_abs_shap": mean_abs})
    table["shap_share"] = 100.0 * table["mean_abs_shap"] / max(table["mean_abs_shap"].sum(), 1e-12)
    return table.sort_values("importance", ascending=False, ignore_index=True)


def pointwise_data(
    X: sp.csr_matrix,
    features: EncodedFeatures | None,
    *,
    negatives_per_user: int = 50,
    seed: int = 0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows for a pointwise classifier: every positive of `X` and unseen items per user.

    Each user gets the same number of negatives (as every user gets the same number
    of candidates in a two-stage system), so the positive rate of a user grows with
    their activity: the imbalance this module measures.

    Returns
    -------
    frame : columns user_id, item_id (categorical), user one-hot fields
        (categorical), numeric item fields (e.g. year), one 0/1 column per value of
        each multi-hot item field (e.g. genre_Comedy), and user_activity.
    labels : bool array, True for positives.
    """
    if negatives_per_user < 1:
        raise ConfigError(f"negatives_per_user must be >= 1, got {negatives_per_user}")
    X = sp.csr_matrix(X)
    pos_users, pos_items = positive_pairs(X)
    rng = np.random.default_rng(seed)
    users = np.arange(X.shape[0])
    users = users[np.diff(X.indptr) < X.shape[1]]  # someone who saw everything has no negative
    neg_items = uniform_negatives(X, users, negatives_per_user, rng).ravel()
    neg_users = np.repeat(users, negatives_per_user)
    all_users = np.r_[pos_users, neg_users]
    all_items = np.r_[pos_items, neg_items]
    labels = np.r_[np.ones(len(pos_users), bool), np.zeros(len(neg_users), bool)]
    columns: dict[str, np.ndarray] = {"user_id": all_users, "item_id": all_items}
    if features is not None:
        for name, fld in features.user_fields.items():
            if fld.kind.value == "one-hot":
                columns[f"user_{name}"] = one_hot_codes(fld)[all_users]
        for name, fld in features.item_fields.items():
            numeric = numeric_values(fld)
            if numeric is not None:
                columns[f"item_{name}"] = numeric[all_items]
            elif fld.n_values <= 64:
                dense = fld.matrix[all_items].toarray()
                for j, value in enumerate(fld.vocabulary):
                    columns[f"{name}_{value}"] = dense[:, j]
    columns["user_activity"] = np.diff(X.indptr)[all_users].astype(np.float64)
    return pd.DataFrame(columns), labels


def fit_pointwise(
    frame: pd.DataFrame,
    labels: np.ndarray,
    *,
    positive_oversample: int = 1,
    iterations: int = 200,
    depth: int = 6,
    learning_rate: float = 0.1,
    thread_count: int = 2,
    seed: int = 0,
):
    """A CatBoost Logloss classifier on `frame` (ids categorical), positives repeated.

    Returns the fitted classifier and the Pool it was trained on.
    """
    from catboost import CatBoostClassifier, Pool

    frame, labels = oversample_positives(frame, labels, positive_oversample)
    pool = Pool(frame, label=labels.astype(int), cat_features=categorical_columns(frame))
    model = CatBoostClassifier(
        iterations=iterations, depth=depth, learning_rate=learning_rate, random_seed=seed,
        thread_count=thread_count, verbose=False, allow_writing_files=False,
    )
    model.fit(pool)
    return model, pool


def positive_rate_by_activity(
    activity: np.ndarray, labels: np.ndarray, users: np.ndarray, *, n_buckets: int = 5
) -> pd.DataFrame:
    """Positive rate of the rows of each user-activity bucket (quantiles of users).

    Parameters
    ----------
    activity : (n_rows,) the history length of each row's user.
    labels : (n_rows,) bool.
    users : (n_rows,) user of each row (buckets are quantiles over users, not rows).

    Examples
    --------
    >>> t = positive_rate_by_activity(np.array([1, 1, 9, 9]), np.array([0, 0, 1, 0]),
    ...                               np.array([0, 0, 1, 1]), n_buckets=2)
    >>> t["positive_rate"].tolist()
    [0.0, 0.5]
    """
    per_user = pd.DataFrame({"user": users, "activity": activity}).drop_duplicates("user")
    edges = np.unique(np.quantile(per_user["activity"], np.linspace(0, 1, n_buckets + 1)))
    bucket = np.clip(np.searchsorted(edges, activity, side="right") - 1, 0, max(len(edges) - 2, 0))
    rows = pd.DataFrame({"bucket": bucket, "label": np.asarray(labels, bool), "user": users})
    table = rows.groupby("bucket").agg(
        users=("user", "nunique"), rows=("label", "size"), positives=("label", "sum")
    )
    table["positive_rate"] = table["positives"] / table["rows"]
    low, high = edges[table.index], edges[np.minimum(table.index + 1, len(edges) - 1)]
    table.insert(0, "activity", [f"{lo:g}-{hi:g}" for lo, hi in zip(low, high)])
    return table.reset_index(drop=True)
