"""A real run folder to serve: `movierec run` on the fixed ml-100k mixed split.

Models: pop, EASE (its grid), and a small reranker over EASE (a model without
fold-in). Refit on train+valid, so each saved model recommends from train+valid,
which is also what is masked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from movierec.config import RunConfig
from movierec.pipeline import run
from tests.synthetic import quiet

RERANK = {"members": "ease", "member_params": {"ease": {"l2": 300.0}}, "n_candidates": 30, "iterations": 20,
          "thread_count": 1}


@pytest.fixture(scope="session")
def run_dir(splits_dir: Path, data_dir: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("served") / "run"
    config = RunConfig(data="ml-100k", data_dir=str(data_dir), split_dir=str(splits_dir / "ml100k-mixed-s0"),
                       models=("pop", "ease", "rerank"), out=str(out),
                       params={"ease": {"l2": [200.0, 300.0], "recency_decay": 1.0}, "rerank": RERANK})
    run(config, log=quiet)
    return out
