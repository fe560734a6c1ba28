"""FM on the fixed ml-100k mixed split: the figures docs/results.md states, reproduced.

For each way of training (the sampled pairs, FM's default, and the whole catalogue,
benchmarks/configs/ml100k-fm-catalogue.toml): a short run without validation (cheap, in
every test run) and the full run early-stopped on validation (slow). All are
deterministic on the CPU, so the bands are two-sided: a change that moves a figure is a
change to look at.
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


CATALOGUE = {"training": "catalogue", "batch_size": 256, "lr": 0.01, "device": "cpu"}  # ml100k-fm-catalogue.toml


@pytest.mark.realdata
def test_fm_against_the_catalogue_ten_epochs_on_the_mixed_split(mixed):
    model = FM(epochs=10, **CATALOGUE).fit(mixed.train, features=mixed.features("train"))
    recall = evaluate(model.score, mixed.test, exclude=mixed.train_valid)["recall@10"]
    assert recall == pytest.approx(0.2195, abs=0.005)


@pytest.mark.slow
@pytest.mark.realdata
def test_fm_against_the_catalogue_run_on_the_mixed_split(mixed):
    model = FM(**CATALOGUE).fit(mixed.train, features=mixed.features("train"), valid=mixed.valid)
    recall = evaluate(model.score, mixed.test, exclude=mixed.train_valid)["recall@10"]
    assert recall == pytest.approx(0.2982, abs=0.005)
