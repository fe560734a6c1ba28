"""FM on the fixed ml-100k mixed split: the figures docs/results.md states, reproduced.

A 6-epoch run without validation (cheap, in every test run) and the full default run
early-stopped on validation (slow). Both are deterministic on the CPU, so the bands are
two-sided: a change that moves either figure is a change to look at.
"""

import pytest

from movierec.data.readers import read_dataset
from movierec.evaluate import evaluate
from movierec.models.torch.fm import FM
from movierec.split import EncodedSplit, read_split


@pytest.fixture(scope="module")
def mixed(data_dir, splits_dir) -> EncodedSplit:
    return EncodedSplit(read_split(splits_dir / "ml100k-mixed-s0"), read_dataset(data_dir / "ml-100k"))


@pytest.mark.realdata
def test_fm_six_epochs_on_the_mixed_split(mixed):
    model = FM(epochs=6, device="cpu").fit(mixed.train, features=mixed.features("train"))
    recall = evaluate(model.score, mixed.test, exclude=mixed.train_valid)["recall@10"]
    assert recall == pytest.approx(0.2651, abs=0.005)


@pytest.mark.slow
@pytest.mark.realdata
def test_fm_default_run_on_the_mixed_split(mixed):
    model = FM(device="cpu").fit(mixed.train, features=mixed.features("train"), valid=mixed.valid)
    recall = evaluate(model.score, mixed.test, exclude=mixed.train_valid)["recall@10"]
    assert recall == pytest.approx(0.2890, abs=0.005)
