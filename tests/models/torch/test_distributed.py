"""FM trained data-parallel by two gloo processes under torchrun learns what one
process learns with the same global batch, and its saved model serves in a plain process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import movierec
from movierec.models.torch import distributed
from tests.synthetic import write_planted_csv

CONFIG = """[run]
models = ["pop", "fm"]
refit = false

[models.fm]
epochs = 4
dim = 16
batch_size = 64
device = "cpu"
"""


def _run(tmp_path: Path, data: Path, out: str, processes: int) -> dict:
    config = tmp_path / "fm.toml"
    config.write_text(CONFIG)
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
              "-m"] if processes > 1 else [sys.executable, "-m"]
    environment = os.environ | {"OMP_NUM_THREADS": "1"}
    result = subprocess.run([*launch, "movierec.cli", "run", "--config", str(config), "--data", str(data),
                             "--out", str(tmp_path / out), "--quiet"], capture_output=True, text=True, timeout=300,
                            env=environment)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads((tmp_path / out / "metrics.json").read_text())["models"]


@pytest.mark.slow  # starts a server / a process group: the slow run of .ci/run
def test_two_gloo_processes_learn_what_one_does_and_the_model_serves(tmp_path):
    data = tmp_path / "planted.csv"
    write_planted_csv(data)
    one, two = _run(tmp_path, data, "one", 1), _run(tmp_path, data, "two", 2)
    assert len(two["fm"]["curve"]) == 4  # every epoch validated, on rank 0, for both ranks
    assert abs(two["fm"]["valid"]["recall@10"] - one["fm"]["valid"]["recall@10"]) <= 0.01
    assert two["fm"]["valid"]["recall@10"] > two["pop"]["valid"]["recall@10"] + 0.1  # it learned the blocks
    served = movierec.load_run(tmp_path / "two")
    listed = served.recommend([served.users[0]], k=3)
    assert len(listed) == 3 and np.isfinite(listed["score"]).all()


def test_one_process_shards_nothing():
    assert not distributed.active() and distributed.shard(0, 10) == slice(0, 10) and distributed.is_main()
    assert distributed.main_decides(lambda: 0.5)() == 0.5
