"""A real run folder to serve: `movierec run` on the fixed ml-100k mixed split.

Models: pop, EASE (its grid), a small reranker over EASE (a model without fold-in)
and an ensemble of EASE and pop (which folds in through its members). Refit on
train+valid, so each saved model recommends from train+valid, which is also what is
masked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.synthetic import real_mixed_run

# fixed weights: a blend of the two, whatever a guard would keep (fold-in must mix, not pass EASE through)
ENSEMBLE = {"members": ("ease", "pop"), "member_params": {"ease": {"l2": 300.0, "recency_decay": 1.0}},
            "weights": {"ease": 1.0, "pop": 1.0}, "method": "rank"}


@pytest.fixture(scope="session")
def run_dir(splits_dir: Path, data_dir: Path, tmp_path_factory) -> Path:
    return real_mixed_run(tmp_path_factory.mktemp("served") / "run", data_dir, splits_dir,
                          ("pop", "ease", "rerank", "ensemble"),
                          params={"ease": {"l2": [200.0, 300.0], "recency_decay": 1.0}, "ensemble": ENSEMBLE})
