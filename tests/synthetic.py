"""Tiny planted-structure data shared by pipeline-level tests.

Two taste groups of users; group g watches mostly items of block g::

    users 0..29  -> items  0..19  (block 0)
    users 30..59 -> items 20..39  (block 1)
    plus a few popular items 40..44 watched by everyone

so a model that learns anything recommends within the user's block.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp


def random_binary(n_users: int, n_items: int, density: float, seed: int = 0) -> sp.csr_matrix:
    """A seeded users x items matrix of ones at random positions (no structure to learn)."""
    X = sp.random(n_users, n_items, density=density, format="csr", random_state=seed, dtype=np.float32)
    X.data[:] = 1.0
    return X


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


def quiet(_message: str) -> None:
    """A pipeline log that prints nothing."""
