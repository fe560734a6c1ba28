"""How sure a figure is: bootstrap intervals over users and paired model comparisons.

A test figure is a mean over test users, and the users are a sample: resampling them
(the bootstrap) says how far the mean could move with other users. Two models scored
on the same users are compared per user (paired), which removes the user-to-user
spread that both share and detects far smaller differences than two separate
intervals would. The test is of the mean difference itself (a sign-flip permutation
test: under "no difference" each user's difference is as likely negated), so its
verdict and the interval beside it speak of the same quantity. Every random draw
takes a seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from movierec.exceptions import ConfigError

RESAMPLES = 1000
CHUNK_VALUES = 4_000_000  # resampled values held at once (bounded memory for many users)


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """`model` against the reference model, per user: mean(model - reference) and its interval."""

    model: str
    difference: Interval
    p_value: float  # sign-flip permutation test of the mean difference, two-sided, before correction
    p_adjusted: float  # Holm-corrected over every comparison made together
    verdict: str  # "better", "worse" or "no detectable difference" (for `model`)


def bootstrap_means(values: np.ndarray, *, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """Means of `resamples` resamples (with replacement) of the rows of `values`.

    `values` is (n,) or (n, m): with columns, each resample keeps the rows together, so
    m models scored on the same users are resampled alike (what a paired view needs).
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 0:
        raise ConfigError("bootstrap needs at least one user; got none")
    if resamples < 1:
        raise ConfigError(f"resamples must be at least 1, got {resamples}")
    rng = np.random.default_rng(seed)
    chunk = max(1, CHUNK_VALUES // n)
    columns = values.reshape(n, -1).T.copy()  # a column's means do not depend on the others'
    means = []
    for start in range(0, resamples, chunk):
        draws = rng.integers(0, n, size=(min(chunk, resamples - start), n))
        # a resample's mean is its draw counts times the rows, one product per column;
        # gathering the drawn rows would copy (resamples, n, m) values
        flat = (draws + n * np.arange(len(draws))[:, None]).ravel()
        counts = np.bincount(flat, minlength=draws.size).reshape(draws.shape)
        weights = counts.astype(np.float64)
        means.append(np.column_stack([weights @ column / n for column in columns]))
    return np.concatenate(means).reshape((resamples, *values.shape[1:]))


def bootstrap_interval(values: np.ndarray, *, level: float = 0.95, resamples: int = RESAMPLES,
                       seed: int = 0) -> Interval:
    """The mean of `values` and its percentile bootstrap interval at `level`."""
    _check_level(level)
    values = np.asarray(values, dtype=np.float64)
    means = bootstrap_means(values, resamples=resamples, seed=seed)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Interval(float(values.mean()), float(low), float(high))


def bootstrap_intervals(columns: dict[str, np.ndarray], *, level: float = 0.95, resamples: int = RESAMPLES,
                        seed: int = 0) -> dict[str, Interval]:
    """:func:`bootstrap_interval` of several per-user figures of the same users, from one set of resamples."""
    _check_level(level)
    names = list(columns)
    values = np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in names])
    means = bootstrap_means(values, resamples=resamples, seed=seed)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail], axis=0)
    return {name: Interval(float(values[:, i].mean()), float(low[i]), float(high[i])) for i, name in enumerate(names)}


def compare_paired(per_user: dict[str, np.ndarray], reference: str, *, level: float = 0.95,
                   resamples: int = RESAMPLES, seed: int = 0) -> list[Comparison]:
    """Every model of `per_user` against `reference`, on the same users.

    The p-values (sign-flip permutation tests of the mean per-user difference, `resamples`
    flips) are Holm-corrected over the comparisons made here, and a verdict other than
    "no detectable difference" needs the corrected p-value below 1 - `level`. Identical
    per-user figures are never a difference.
    """
    _check_level(level)
    if reference not in per_user:
        raise ConfigError(f"reference model {reference!r} is not among {sorted(per_user)}")
    base = np.asarray(per_user[reference], dtype=np.float64)
    others = [name for name in per_user if name != reference]
    for name in others:
        if len(per_user[name]) != len(base):
            raise ConfigError(f"{name!r} has {len(per_user[name])} users, {reference!r} {len(base)}: "
                              "a paired comparison needs the same users")
    differences = {name: np.asarray(per_user[name], dtype=np.float64) - base for name in others}
    p_values = np.array([sign_flip_p(d, resamples=resamples, seed=seed) for d in differences.values()])
    adjusted = holm(p_values)
    tail = (1 - level) / 2
    out = []
    for (name, diff), p, p_adj in zip(differences.items(), p_values, adjusted):
        means = bootstrap_means(diff, resamples=resamples, seed=seed)
        low, high = np.quantile(means, [tail, 1 - tail])
        mean = float(diff.mean())
        significant = p_adj < 1 - level and mean != 0.0
        verdict = ("better" if mean > 0 else "worse") if significant else "no detectable difference"
        out.append(Comparison(name, Interval(mean, float(low), float(high)), float(p), float(p_adj), verdict))
    return out


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down correction of a family of p-values (same order as given)."""
    p_values = np.asarray(p_values, dtype=np.float64)
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p_values[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def sign_flip_p(difference: np.ndarray, *, resamples: int = RESAMPLES, seed: int = 0) -> float:
    """Two-sided p-value of "mean difference 0": the share of random sign flips of the
    per-user differences whose mean is at least as far from 0 (counting the observed one)."""
    difference = np.asarray(difference, dtype=np.float64)
    observed = abs(difference.mean())
    if not np.any(difference != 0):
        return 1.0  # identical figures for every user: nothing to detect
    rng = np.random.default_rng(seed)
    n = len(difference)
    chunk = max(1, CHUNK_VALUES // n)
    extreme = 0
    for start in range(0, resamples, chunk):
        signs = rng.integers(0, 2, size=(min(chunk, resamples - start), n), dtype=np.int8) * 2 - 1
        extreme += int((np.abs(signs @ difference / n) >= observed - 1e-12).sum())
    return (extreme + 1) / (resamples + 1)


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ConfigError(f"confidence level must be between 0 and 1, got {level}")
