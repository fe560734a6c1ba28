"""The encoded split (movierec.split.encoded), and tags that must not leak hidden pairs.

A tiny ml-latest-small layout; users 1..3 rate, users 8 and 9 only tag::

    ratings   1: 10, 11, 12, 13     2: 10, 11, 14     3: 12, 13, 14
    split     test = (1, 13) and (2, 14); valid = (3, 14); the rest is train
    tags      "secret": by user 1 on 13 only (the test pair), and by tag-only users 8, 9 on 10, 11, 12
              "noir":   by user 1 on 10 (a train pair), by 8 on 11 and 9 on 12

Built from everything, "secret" would describe item 13: the hidden film of user 1
would carry its viewer's own tag, which FM's item fields and the reranker's overlap
features read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from movierec.config import RunConfig
from movierec.data.readers import read_dataset
from movierec.export.recbole import export_recbole
from movierec.models.popularity import Popularity
from movierec.models.registry import MODELS
from movierec.pipeline import run
from movierec.split import EncodedSplit, Split, write_split
from tests.synthetic import quiet

RATINGS = [(1, 10), (1, 11), (1, 12), (1, 13), (2, 10), (2, 11), (2, 14), (3, 12), (3, 13), (3, 14)]
HIDDEN = {"test": [(1, 13), (2, 14)], "valid": [(3, 14)]}
TAGS = [(1, 13, "secret"), (8, 10, "secret"), (8, 11, "secret"), (9, 12, "secret"),
        (1, 10, "noir"), (8, 11, "noir"), (9, 12, "noir")]


def _write(folder: Path) -> Path:
    folder.mkdir(parents=True)
    lines = [f"{user},{item},4.0,{1_000_000 + 10 * n}" for n, (user, item) in enumerate(RATINGS)]
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "\n".join(lines) + "\n")
    (folder / "movies.csv").write_text("movieId,title,genres\n" + "".join(
        f"{item},Film {item} (1990),Drama\n" for item in range(10, 15)))
    (folder / "tags.csv").write_text("userId,movieId,tag,timestamp\n" + "".join(
        f"{user},{item},{tag},2000000\n" for user, item, tag in TAGS))
    return folder


def _split(dataset) -> Split:
    frame = dataset.interactions
    pairs = list(zip(frame["user"], frame["item"]))
    part = {pair: name for name, hidden in HIDDEN.items() for pair in hidden}
    masks = {name: np.array([part.get(pair) == name for pair in pairs]) for name in ("valid", "test")}
    train = ~(masks["valid"] | masks["test"])
    return Split(frame[train].reset_index(drop=True), frame[masks["valid"]].reset_index(drop=True),
                 frame[masks["test"]].reset_index(drop=True))


@pytest.fixture()
def dataset(tmp_path):
    return read_dataset(_write(tmp_path / "ml-latest-small"))


def _tags_of(data: EncodedSplit, history: str, item: int) -> set[str]:
    field = data.features(history).item_fields["tag"]
    row = data.idmap.item_index(np.array([item]))[0]
    return set(field.vocabulary[field.matrix[row].indices])


def test_a_hidden_pairs_own_tag_is_seen_only_by_the_history_that_holds_it(dataset):
    data = EncodedSplit(_split(dataset), dataset)
    for history in ("train", "train_valid"):
        assert _tags_of(data, history, 13) == set(), f"{history}: the test pair's tag reached item 13"
        assert _tags_of(data, history, 11) == {"secret", "noir"}  # tag-only users and train pairs count
    assert _tags_of(data, "all", 13) == {"secret"}  # the final submission knows every pair
    assert "tag" not in dataset.item_fields


def test_no_fit_of_the_pipeline_sees_the_test_pairs_tag(dataset, tmp_path, monkeypatch):
    seen: list[set[str]] = []

    class Spy(Popularity):
        """Popularity that records the tags item 13 carries in every fit it gets."""

        name = "spy"

        def _fit(self, X, *, features, valid, timestamps):
            field = features.item_fields["tag"]
            seen.append(set(field.vocabulary[field.matrix[3].indices]))  # items 10..14: 13 is index 3
            super()._fit(X, features=features, valid=valid, timestamps=timestamps)

    monkeypatch.setitem(MODELS, "spy", Spy)
    write_split(_split(dataset), tmp_path / "split")
    config = RunConfig(data=str(tmp_path / "ml-latest-small"), split_dir=str(tmp_path / "split"), models=("spy",), k=3,
                       out=str(tmp_path / "run"), save_models=False)
    run(config, log=quiet)
    assert seen == [set(), set()]  # tuning on train, refit on train+valid


def test_the_recbole_export_writes_tags_as_train_sees_them(dataset, tmp_path):
    split = _split(dataset)
    export_recbole(split, tmp_path, "tiny", dataset)
    items = pd.read_csv(tmp_path / "tiny" / "tiny.item", sep="\t", dtype=str, keep_default_na=False)
    tags = dict(zip(items["item_id:token"], items["tag:token_seq"]))
    assert "secret" not in tags["13"].split() and set(tags["11"].split()) == {"secret", "noir"}


def test_each_history_has_its_matrix_timestamps_and_features_once(dataset):
    data = EncodedSplit(_split(dataset), dataset)
    assert data.history("train_valid").nnz == data.train.nnz + data.valid.nnz
    assert data.history("all").nnz == len(RATINGS)
    for history in ("train", "train_valid", "all"):
        times, matrix = data.timestamps(history), data.history(history)
        assert (times.indices == matrix.indices).all() and (times.indptr == matrix.indptr).all()
        assert data.timestamps(history) is times and data.features(history) is data.features(history)
    with pytest.raises(Exception, match="unknown"):
        data.history("test")


def test_a_split_folder_paired_with_another_data_sets_side_fields_is_noted(dataset, tmp_path):
    """Items 10-14 have genres; a split folder of items 20-24 read with them describes none."""
    from movierec.split import SplitSpec, load_encoded

    source = tmp_path / "ml-latest-small"
    own = tmp_path / "own"
    write_split(_split(dataset), own)
    assert not any("was made from" in note for note in load_encoded(data=str(source), data_dir=None,
                                                                     split_dir=own, spec=SplitSpec()).notes)
    frame = dataset.interactions.assign(item=dataset.interactions["item"] + 10)
    foreign = tmp_path / "foreign"
    write_split(Split(frame.iloc[:6].reset_index(drop=True), frame.iloc[6:8].reset_index(drop=True),
                      frame.iloc[8:].reset_index(drop=True)), foreign)
    notes = load_encoded(data=str(source), data_dir=None, split_dir=foreign, spec=SplitSpec()).notes
    assert any(note.startswith("only 0 of the split's 5 items have a row in ml-latest-small's side fields")
               for note in notes), notes
    # a data set split by the run itself is its own: no such question, however few items its side files cover
    assert not any("was made from" in note for note in load_encoded(data=str(source), data_dir=None, split_dir=None,
                                                                     spec=SplitSpec("random", fraction=0.3)).notes)


def test_test_users_and_items_nothing_else_holds_are_noted():
    """A user known only from the test part is ranked from an empty history, and an item
    only the test part holds is one no model has seen: both are said."""
    frame = lambda rows: pd.DataFrame(rows, columns=["user", "item", "timestamp"])  # noqa: E731
    split = Split(train=frame([(1, 10, 1), (1, 11, 2), (2, 10, 1)]), valid=frame([(2, 11, 3)]),
                  test=frame([(1, 12, 3), (3, 10, 4), (3, 13, 5)]))
    notes = EncodedSplit(split).notes
    assert ("1 test users occur in neither train nor validation, and 0 more only in validation: no model has seen "
            "the 1, and only a refit the 0") in notes
    assert ("2 test items occur in neither train nor validation, and 0 more only in validation: no model has seen "
            "the 2, and only a refit the 0") in notes
    late = Split(train=frame([(1, 10, 1), (2, 10, 1)]), valid=frame([(2, 11, 2)]), test=frame([(1, 11, 3)]))
    assert EncodedSplit(late).notes == ["0 test items occur in neither train nor validation, and 1 more only in "
                                        "validation: no model has seen the 0, and only a refit the 1"]
    warm = Split(train=frame([(1, 10, 1), (2, 11, 1)]), valid=frame([(1, 11, 2)]), test=frame([(2, 10, 2)]))
    assert EncodedSplit(warm).notes == []
