"""Tiny planted-structure data shared by pipeline-level tests.

Two taste groups of users; group g watches mostly items of block g::

    users 0..29  -> items  0..19  (block 0)
    users 30..59 -> items 20..39  (block 1)
    plus a few popular items 40..44 watched by everyone

so a model that learns anything recommends within the user's block.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.data.interactions import csr_from_indices


def random_binary(n_users: int, n_items: int, density: float, seed: int = 0) -> sp.csr_matrix:
    """A seeded users x items matrix of ones at random positions (no structure to learn)."""
    X = sp.random(n_users, n_items, density=density, format="csr", random_state=seed, dtype=np.float32)
    X.data[:] = 1.0
    return X


def timed_matrix(n_users: int = 30, n_items: int = 40, per_user: int = 12, seed: int = 0):
    """Each user has `per_user` random items; timestamp = user * 1000 + position."""
    rng = np.random.default_rng(seed)
    cols = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :per_user]
    rows = np.repeat(np.arange(n_users), per_user)
    X = csr_from_indices(rows, cols.ravel(), (n_users, n_items))
    order = np.tile(np.arange(per_user), n_users)
    T = sp.csr_matrix((rows * 1000.0 + order, (rows, cols.ravel())), shape=X.shape)
    T.sort_indices()
    return X, T, cols


def planted_interactions(seed: int = 0, n_users: int = 60, block: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        group = user * 2 // n_users
        liked = rng.choice(block, size=12, replace=False) + group * block
        popular = 2 * block + rng.choice(5, size=3, replace=False)
        for position, item in enumerate(np.r_[liked, popular]):
            rows.append((f"u{user}", f"i{item}", 1_000_000 + 100 * user + position * 10 + int(rng.integers(0, 5))))
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"])


def write_planted_csv(path, seed: int = 0) -> None:
    planted_interactions(seed).to_csv(path, index=False)


def real_mixed_run(out: Path, data_dir: Path, splits_dir: Path, models: tuple[str, ...], **settings):
    """`movierec run` on the fixed ml-100k mixed split with a small reranker over EASE (fast)."""
    from movierec.config import RunConfig
    from movierec.pipeline import run

    rerank = {"members": "ease", "member_params": {"ease": {"l2": 300.0}}, "n_candidates": 30, "iterations": 20,
              "thread_count": 1}
    params = {"rerank": rerank} | settings.pop("params", {})
    config = RunConfig(data="ml-100k", data_dir=str(data_dir), split_dir=str(splits_dir / "ml100k-mixed-s0"),
                       models=models, out=str(out), params=params, **settings)
    run(config, log=quiet)
    return out


def quiet(_message: str) -> None:
    """A pipeline log that prints nothing."""


def write_split_without_valid(folder: Path) -> Path:
    """A split folder (two users, three items) whose valid.csv holds no rows."""
    folder.mkdir(parents=True)
    (folder / "train.csv").write_text("user,item,timestamp\n1,1,0\n1,2,1\n2,1,0\n")
    (folder / "valid.csv").write_text("user,item,timestamp\n")
    (folder / "test.csv").write_text("user,item,timestamp\n1,3,5\n2,2,5\n")
    return folder
