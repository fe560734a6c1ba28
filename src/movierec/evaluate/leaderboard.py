"""Leaderboard risk: how much a model chosen on half the users tells about the other half.

The competition scored a public half of the hidden users during the contest and a
private half at the end; a model picked because it led on the public half often led
by luck, and lost ground on the private one. Repeating random 50:50 halvings of the
test users measures that risk for a given set of models: how often the public leader
is also the private leader, and how much the leader's figure drops from its public to
its private half.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from movierec.exceptions import ConfigError

REPEATS = 1000
CHUNK_VALUES = 4_000_000  # user memberships drawn at once


@dataclass(frozen=True)
class LeaderboardRisk:
    models: tuple[str, ...]
    repeats: int
    same_leader: float  # share of halvings whose public leader also leads the private half
    public_to_private: float  # mean private - public figure of the public leader
    public_to_private_low: float  # 5th percentile of that change
    chosen_share: dict[str, float]  # how often each model leads the public half
    fixed_choice: str | None  # a model chosen beforehand (e.g. best on validation), if any
    fixed_choice_best_private: float | None  # how often it leads the private half


def leaderboard_risk(per_user: dict[str, np.ndarray], *, repeats: int = REPEATS, seed: int = 0,
                     fixed_choice: str | None = None) -> LeaderboardRisk:
    """Simulate `repeats` public/private halvings of the users of `per_user` (model -> per-user figure).

    `fixed_choice` names a model chosen without the test users (the run's best on
    validation): how often it is the private leader is reported beside the public pick.
    A tie for the public lead is broken at random; a model tied for the private lead
    counts as leading it (identical lists are not told apart by luck).
    """
    names = tuple(per_user)
    if len(names) < 2:
        raise ConfigError(f"leaderboard risk compares at least two models; got {list(names)}")
    if fixed_choice is not None and fixed_choice not in per_user:
        raise ConfigError(f"fixed choice {fixed_choice!r} is not among {list(names)}")
    if repeats < 1:
        raise ConfigError(f"repeats must be at least 1, got {repeats}")
    scores = np.column_stack([np.asarray(per_user[name], dtype=np.float64) for name in names])  # (users, models)
    n = len(scores)
    if n < 2:
        raise ConfigError(f"leaderboard risk needs at least two users; got {n}")
    if not np.isfinite(scores).all():
        bad = names[int(np.flatnonzero(~np.isfinite(scores).all(axis=0))[0])]
        raise ConfigError(f"per-user figures of {bad!r} are not all finite; leaderboard risk needs a figure per user")
    rng = np.random.default_rng(seed)
    public_means, private_means = [], []
    for start in range(0, repeats, max(1, CHUNK_VALUES // n)):  # bounded memory for many users
        size = min(max(1, CHUNK_VALUES // n), repeats - start)
        public = rng.random((size, n)).argsort(axis=1) < n // 2  # a random half of the users per row
        public_means.append(public @ scores / (n // 2))
        private_means.append(~public @ scores / (n - n // 2))
    public_means, private_means = np.concatenate(public_means), np.concatenate(private_means)
    tied_public = np.isclose(public_means, public_means.max(axis=1, keepdims=True), rtol=0, atol=1e-12)
    leader = np.where(tied_public, rng.random(tied_public.shape), -1.0).argmax(axis=1)
    rows = np.arange(repeats)
    change = private_means[rows, leader] - public_means[rows, leader]
    leads_private = np.isclose(private_means, private_means.max(axis=1, keepdims=True), rtol=0, atol=1e-12)
    fixed_best = None
    if fixed_choice is not None:
        fixed_best = float(leads_private[:, names.index(fixed_choice)].mean())
    return LeaderboardRisk(
        models=names,
        repeats=repeats,
        same_leader=float(leads_private[rows, leader].mean()),
        public_to_private=float(change.mean()),
        public_to_private_low=float(np.quantile(change, 0.05)),
        chosen_share={name: float((leader == i).mean()) for i, name in enumerate(names)},
        fixed_choice=fixed_choice,
        fixed_choice_best_private=fixed_best,
    )
