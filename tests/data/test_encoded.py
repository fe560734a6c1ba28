"""IdMap, the interaction matrix X and encoded side fields.

Fixture: users 30, 10, 20 and items "b", "a", "c" arrive unsorted::

    rows (user, item)   (30,"b") (10,"a") (30,"a") (10,"a")  <- repeated pair
    IdMap               users 10->0 20->1 30->2   items "a"->0 "b"->1 "c"->2
    X (3 x 3)           [[1,0,0],
                         [0,0,0],
                         [1,1,0]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from movierec.data import EncodedFeatures, FieldKind, IdMap, RawField, encode_fields, to_csr
from movierec.data.dataset import Dataset, normalise_ids
from movierec.exceptions import DataError
from movierec.split import Split


@pytest.fixture
def idmap() -> IdMap:
    return IdMap.from_ids(pd.Series([30, 10, 20]), pd.Series(["b", "a", "c"]))


def test_idmap_indices_follow_sorted_raw_ids(idmap):
    assert idmap.user_index(pd.Series([10, 20, 30])).tolist() == [0, 1, 2]
    assert idmap.item_index(np.array(["c", "a"])).tolist() == [2, 0]
    assert idmap.raw_users(np.array([2, 0])).tolist() == [30, 10]
    assert idmap.raw_items(np.array([1])).tolist() == ["b"]
    shuffled = IdMap.from_ids(pd.Series([20, 30, 10, 10]), pd.Series(["c", "a", "b"]))
    assert shuffled.users.equals(idmap.users) and shuffled.items.equals(idmap.items)


def test_idmap_unknown_ids_are_a_data_error(idmap):
    with pytest.raises(DataError, match=r"2 users are not in the id map \(e.g. \[40, 50\]\)"):
        idmap.user_index(pd.Series([10, 40, 50]))


def test_to_csr_is_binary_float32_and_aligned(idmap):
    frame = pd.DataFrame({"user": [30, 10, 30, 10], "item": ["b", "a", "a", "a"]})
    X = to_csr(frame, idmap)
    assert X.dtype == np.float32 and X.shape == (3, 3)
    assert X.toarray().tolist() == [[1, 0, 0], [0, 0, 0], [1, 1, 0]]
    assert to_csr(frame.iloc[:0], idmap).shape == (3, 3)  # empty parts still line up


def test_normalise_ids():
    assert normalise_ids(pd.Series(["007", " 8 ", "9.0"])).tolist() == [7, 8, 9]
    assert normalise_ids(pd.Series(["7", "tt8"])).tolist() == ["7", "tt8"]
    # only digits make an integer id, and only within 64 bits: no two ids merge into one number
    assert normalise_ids(pd.Series(["1e1", "10"])).tolist() == ["1e1", "10"]
    assert normalise_ids(pd.Series(["+5", "5"])).tolist() == ["+5", "5"]
    huge = ["1", "99999999999999999999", "88888888888888888888"]
    assert normalise_ids(pd.Series(huge)).tolist() == huge
    assert normalise_ids(pd.Series([2**64 - 1, 1], dtype=np.uint64)).tolist() == ["18446744073709551615", "1"]
    assert normalise_ids(pd.Series([2**70, 1], dtype=object)).tolist() == [str(2**70), "1"]
    assert normalise_ids(pd.Series(["\u0664\u0662", "42"])).tolist() == ["\u0664\u0662", "42"]  # ASCII digits only
    assert normalise_ids(pd.Series([1, None], dtype="Int64")).iloc[0] == "1"  # a missing id merges with none
    assert normalise_ids(pd.Series([1, 2])).dtype == np.int64


def test_raw_field_checks():
    with pytest.raises(DataError, match="missing columns"):
        RawField("genre", FieldKind.MULTI_HOT, pd.DataFrame({"id": [1]}))
    with pytest.raises(DataError, match="one-hot but id 1 has several values"):
        RawField("year", FieldKind.ONE_HOT, pd.DataFrame({"id": [1, 1], "value": ["1995", "1996"]}))


def test_encode_fields_one_hot_and_multi_hot(idmap):
    fields = {
        "genre": RawField("genre", FieldKind.MULTI_HOT, pd.DataFrame(
            {"id": ["a", "a", "b", "a"], "value": ["Drama", "Comedy", "Drama", "Drama"]})),
        "year": RawField("year", FieldKind.ONE_HOT, pd.DataFrame({"id": ["b", "c"], "value": ["1995", "1990"]})),
    }
    encoded, dropped = encode_fields(fields, idmap.items)
    assert dropped == 0
    genre = encoded["genre"]
    assert genre.vocabulary.tolist() == ["Comedy", "Drama"]
    assert genre.matrix.toarray().tolist() == [[1, 1], [0, 1], [0, 0]]  # "c" has no genre: empty row
    assert genre.matrix.dtype == np.float32 and genre.kind is FieldKind.MULTI_HOT
    year = encoded["year"]
    assert year.vocabulary.tolist() == ["1990", "1995"]
    assert year.matrix.toarray().tolist() == [[0, 0], [0, 1], [1, 0]]
    assert year.n_values == 2
    assert not EncodedFeatures(encoded).is_empty and EncodedFeatures().is_empty


def test_encode_fields_counts_rows_of_unknown_entities(idmap):
    """Side files describe items nobody interacted with: dropped and counted, not an error."""
    fields = {
        "genre": RawField("genre", FieldKind.MULTI_HOT, pd.DataFrame(
            {"id": ["a", "zz", "zz", "yy"], "value": ["Drama", "Drama", "War", "Noir"]})),
        "year": RawField("year", FieldKind.ONE_HOT, pd.DataFrame({"id": ["zz"], "value": ["2001"]})),
    }
    encoded, dropped = encode_fields(fields, idmap.items)
    assert dropped == 4
    assert encoded["genre"].vocabulary.tolist() == ["Drama"]  # values of dropped rows vanish too
    assert encoded["year"].matrix.shape == (3, 0)


def test_pipeline_reports_the_dropped_side_rows():
    """The counted skip reaches the run's notes (movierec.split.EncodedSplit)."""
    from movierec.split import EncodedSplit

    frame = pd.DataFrame({"user": [1, 1, 2, 2], "item": [10, 11, 10, 12], "timestamp": [1, 2, 3, 4]})
    genres = pd.DataFrame({"id": [10, 11, 12, 99, 98], "value": ["A", "B", "A", "C", "C"]})
    gender = pd.DataFrame({"id": [1, 2, 3], "value": ["F", "M", "F"]})
    dataset = Dataset(
        "tiny", frame,
        {"genre": RawField("genre", FieldKind.MULTI_HOT, genres)},
        {"gender": RawField("gender", FieldKind.ONE_HOT, gender)},
    )
    split = Split(frame.iloc[[0, 2]], frame.iloc[[1]], frame.iloc[[3]])
    notes = EncodedSplit(split, dataset).notes
    assert any("skipped 2 side-feature rows of items" in note for note in notes), notes
    assert any("skipped 1 side-feature rows of users" in note for note in notes), notes


@pytest.mark.realdata
def test_ml100k_features_encode_against_the_fixed_split(data_dir, splits_dir):
    from movierec.data.readers import read_dataset
    from movierec.split import read_split

    split = read_split(splits_dir / "ml100k-mixed-s0")
    every = pd.concat([split.train, split.valid, split.test])
    idmap = IdMap.from_ids(every["user"], every["item"])
    dataset = read_dataset(data_dir / "ml-100k")
    items, dropped = encode_fields(dataset.item_fields, idmap.items)
    users, _ = encode_fields(dataset.user_fields, idmap.users)
    assert dropped == 0  # every item of u.item is rated at least once
    assert items["genre"].matrix.shape == (1682, 19)
    assert (np.diff(items["genre"].matrix.indptr) >= 1).all()  # every movie has a genre
    assert users["gender"].matrix.shape == (943, 2)
    assert (users["gender"].matrix.sum(axis=1) == 1).all()
