"""The seeded per-user splitters: sizes per protocol, determinism, training never empty.

Synthetic interactions: user u (0..39) has ``1 + u`` items, item j of user u seen at
time ``1000 * u + j`` (so "last by time" is "highest j"); user ids are shifted by 100
and items by 500 so raw ids differ from positions::

    user 100: item 500                      (1 item: everything stays in train)
    user 101: items 500 501                 (2 items)
    ...
    user 139: items 500 .. 539              (40 items)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from movierec.exceptions import SplitError
from movierec.split import SplitSpec, competition_split, make_split, random_split, temporal_split
from movierec.split.split import Split

N_USERS = 40


@pytest.fixture(scope="module")
def interactions() -> pd.DataFrame:
    sizes = np.arange(1, N_USERS + 1)
    user = np.repeat(np.arange(N_USERS), sizes)
    position = np.concatenate([np.arange(n) for n in sizes])
    return pd.DataFrame({"user": user + 100, "item": position + 500, "timestamp": 1000 * user + position})


def _counts(frame: pd.DataFrame) -> pd.Series:
    return frame.groupby("user").size().reindex(range(100, 100 + N_USERS), fill_value=0)


def _expected_mixed(sizes: np.ndarray, tail: int, fraction: float) -> np.ndarray:
    """The documented rule: last `tail` + round(fraction * earlier), one row always kept."""
    n_tail = np.minimum(tail, sizes - 1)
    earlier = sizes - n_tail
    return n_tail + np.minimum(np.round(fraction * earlier).astype(int), earlier - 1)


def _check_partition(split: Split, interactions: pd.DataFrame) -> None:
    together = pd.concat([split.train, split.valid, split.test])
    assert len(together) == len(interactions)
    pairs = set(zip(together["user"], together["item"]))
    assert pairs == set(zip(interactions["user"], interactions["item"]))
    assert (_counts(split.train) >= 1).all(), "every user keeps a training item"


@pytest.mark.parametrize(("tail", "fraction"), [(2, 0.1), (1, 0.3), (0, 0.2), (3, 0.0)])
def test_competition_sizes_per_user(interactions, tail, fraction):
    split = competition_split(interactions, tail=tail, fraction=fraction, seed=0)
    _check_partition(split, interactions)
    sizes = _counts(interactions).to_numpy()
    n_test = _expected_mixed(sizes, tail, fraction)
    np.testing.assert_array_equal(_counts(split.test).to_numpy(), n_test)
    n_valid = _expected_mixed(sizes - n_test, tail, fraction)
    np.testing.assert_array_equal(_counts(split.valid).to_numpy(), n_valid)


def test_competition_test_holds_each_users_last_items(interactions):
    split = competition_split(interactions, tail=2, fraction=0.1, seed=0)
    last_two = interactions.sort_values("timestamp").groupby("user").tail(2)
    last_two = last_two[last_two["user"] > 101]  # users 100/101 keep one item for training
    test_pairs = set(zip(split.test["user"], split.test["item"]))
    assert set(zip(last_two["user"], last_two["item"])) <= test_pairs
    # validation is carved the same way from what is left: its tail is the rest's last two
    rest = split.train_valid[split.train_valid["user"] == 139]
    valid = split.valid[split.valid["user"] == 139]
    assert set(rest.nlargest(2, "timestamp")["item"]) <= set(valid["item"])


def test_temporal_holds_the_last_k_for_test_and_the_k_before_for_valid(interactions):
    split = temporal_split(interactions, tail=2)
    _check_partition(split, interactions)
    sizes = _counts(interactions).to_numpy()
    n_test = np.minimum(2, sizes - 1)
    np.testing.assert_array_equal(_counts(split.test).to_numpy(), n_test)
    np.testing.assert_array_equal(_counts(split.valid).to_numpy(), np.minimum(2, sizes - n_test - 1))
    user = split.test[split.test["user"] == 139]
    assert sorted(user["item"]) == [538, 539]
    assert sorted(split.valid.loc[split.valid["user"] == 139, "item"]) == [536, 537]
    # time order per user: train < valid < test
    last_train = split.train.groupby("user")["timestamp"].max()
    first_test = split.test.groupby("user")["timestamp"].min()
    assert (last_train.reindex(first_test.index) < first_test).all()


def test_random_holds_about_fraction_per_user(interactions):
    split = random_split(interactions, fraction=0.1, seed=0)
    _check_partition(split, interactions)
    sizes = _counts(interactions).to_numpy()
    n_test = np.minimum(np.round(0.1 * sizes).astype(int), sizes - 1)
    np.testing.assert_array_equal(_counts(split.test).to_numpy(), n_test)
    # valid: the same share of the user's whole count, one item always left to train
    n_valid = np.minimum(np.round(0.1 * sizes).astype(int), sizes - n_test - 1)
    np.testing.assert_array_equal(_counts(split.valid).to_numpy(), n_valid)
    assert n_valid[-1] == 4


def test_random_held_items_are_not_just_the_last_ones(interactions):
    split = random_split(interactions, fraction=0.2, seed=0)
    test = split.test[split.test["user"] == 139]
    assert set(test["item"]) != set(range(532, 540))


@pytest.mark.parametrize("protocol", ["competition", "random"])
def test_same_seed_same_split_other_seed_other_split(interactions, protocol):
    spec = SplitSpec(protocol=protocol, tail=2, fraction=0.2, seed=7)
    first = make_split(interactions, spec).checksum()
    assert make_split(interactions, spec).checksum() == first
    other = SplitSpec(protocol=protocol, tail=2, fraction=0.2, seed=8)
    assert make_split(interactions, other).checksum() != first


@pytest.mark.parametrize("protocol", ["competition", "random", "temporal"])
def test_split_does_not_depend_on_row_order(interactions, protocol):
    spec = SplitSpec(protocol=protocol, seed=3, fraction=0.2)
    shuffled = interactions.sample(frac=1.0, random_state=0)
    assert make_split(shuffled, spec).checksum() == make_split(interactions, spec).checksum()


def test_overlapping_parts_are_a_split_error(interactions):
    split = make_split(interactions, SplitSpec(seed=0))
    leaked = pd.concat([split.train, split.test.head(1)], ignore_index=True)
    with pytest.raises(SplitError, match="both train and test"):
        Split(leaked, split.valid, split.test)
    with pytest.raises(SplitError, match="both valid and test"):
        Split(split.train, pd.concat([split.valid, split.test.head(1)]), split.test)


def test_duplicated_pairs_cannot_leak_across_parts():
    """A pair seen twice must not end up in both train and test: the split refuses it."""
    frame = pd.DataFrame({"user": [1] * 6, "item": [1, 2, 3, 4, 5, 5], "timestamp": [1, 2, 3, 4, 5, 0]})
    with pytest.raises(SplitError):
        temporal_split(frame, tail=1)


@pytest.mark.parametrize(
    "kwargs",
    [{"protocol": "leave-one-out"}, {"tail": -1}, {"fraction": 1.0}, {"fraction": -0.1}],
)
def test_bad_spec_is_a_split_error(kwargs):
    with pytest.raises(SplitError):
        SplitSpec(**kwargs)


def test_bad_random_fraction_and_temporal_tail(interactions):
    with pytest.raises(SplitError, match="0 < fraction < 0.5"):
        random_split(interactions, fraction=0.6)
    with pytest.raises(SplitError, match="tail >= 1"):
        temporal_split(interactions, tail=0)


def test_missing_columns_are_a_split_error():
    with pytest.raises(SplitError, match="timestamp"):
        make_split(pd.DataFrame({"user": [1], "item": [2]}), SplitSpec())


@pytest.mark.realdata
@pytest.mark.parametrize("protocol", ["competition", "random", "temporal"])
def test_ml100k_split_sizes(data_dir, protocol):
    from movierec.data.readers import read_dataset

    frame = read_dataset(data_dir / "ml-100k").interactions
    split = make_split(frame, SplitSpec(protocol=protocol, seed=0))
    _check_partition(split, frame)
    assert split.test["user"].nunique() == 943  # every ml-100k user has >= 20 ratings
    share = len(split.test) / len(frame)
    expected = {"competition": (0.10, 0.14), "random": (0.095, 0.105), "temporal": (0.018, 0.02)}[protocol]
    assert expected[0] <= share <= expected[1], share


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "spec"), [
    ("ml100k-mixed-s0", SplitSpec(protocol="competition", tail=2, fraction=0.1)),
    ("ml100k-random-s0", SplitSpec(protocol="random", fraction=0.1)),
])
def test_protocols_reproduce_the_shared_splits_per_user_sizes(splits_dir, name, spec):
    """The fixed splits in ../shared/splits were made with the documented rules:
    per user, our test and valid sizes equal theirs (the drawn items differ)."""
    from movierec.split import read_split

    shared = read_split(splits_dir / name)
    ours = make_split(pd.concat([shared.train, shared.valid, shared.test]), spec)
    for part in ("test", "valid"):
        theirs = getattr(shared, part).groupby("user").size()
        mine = getattr(ours, part).groupby("user").size().reindex(theirs.index, fill_value=0)
        assert (mine == theirs).all(), (part, int((mine != theirs).sum()))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("protocol", ["competition", "random", "temporal"])
def test_invariants_on_random_data(seed, protocol):
    """Random users (1..60 items, tied timestamps, text ids): a partition, training
    never empty, test never before training for the tail protocols."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 60, size=50)
    user = np.repeat(np.arange(50), sizes)
    item = np.concatenate([rng.choice(200, size=n, replace=False) for n in sizes])
    frame = pd.DataFrame({
        "user": pd.Series(user).map(lambda u: f"u{u}"),
        "item": item,
        "timestamp": rng.integers(0, 20, size=len(user)),  # many ties
    })
    split = make_split(frame, SplitSpec(protocol=protocol, seed=seed, tail=2, fraction=0.15))
    counts = lambda part: part.groupby("user").size().reindex(frame["user"].unique(), fill_value=0)  # noqa: E731
    together = pd.concat([split.train, split.valid, split.test])
    assert len(together) == len(frame) and not together.duplicated(["user", "item"]).any()
    assert (counts(split.train) >= 1).all()
    if protocol != "random":
        last_train = split.train.groupby("user")["timestamp"].max()
        tail = split.test.groupby("user")["timestamp"].max()
        assert (last_train.reindex(tail.index) <= tail).all()


@pytest.mark.parametrize("protocol", ["competition", "temporal"])
def test_items_watched_in_the_same_second_are_last_in_a_seeded_random_order(protocol):
    """Each user watched item 0, then items 1-9 in one second: which of those are the
    "last" ones is drawn with the split's seed, not taken by the highest item ids."""
    frame = pd.DataFrame({"user": np.repeat(np.arange(60), 10), "item": np.tile(np.arange(10), 60)})
    frame["timestamp"] = np.where(frame["item"] == 0, 1, 7)
    spec = SplitSpec(protocol, tail=2, fraction=0.0, seed=5)
    split = make_split(frame, spec)
    assert (split.test.groupby("user").size() == 2).all() and 0 not in set(split.test["item"])
    held = split.test["item"].value_counts()
    assert set(held.index) == set(range(1, 10)) and held.max() < 30  # 120 draws over 9 items, not 60 of 8 and 9
    assert make_split(frame.sample(frac=1.0, random_state=1), spec).checksum() == split.checksum()
    assert make_split(frame, SplitSpec(protocol, tail=2, fraction=0.0, seed=6)).checksum() != split.checksum()


@pytest.mark.parametrize("protocol", ["competition", "temporal"])
def test_an_order_protocol_refuses_data_without_times(protocol):
    """Without times, "each user's last items" would be the highest item ids."""
    frame = pd.DataFrame({"user": [1, 1, 1, 2, 2, 2], "item": [1, 2, 3, 1, 2, 3], "timestamp": 0})
    with pytest.raises(SplitError, match="same timestamp.*--protocol random"):
        make_split(frame, SplitSpec(protocol))
    assert len(make_split(frame, SplitSpec("random", fraction=0.3)).train) > 0


@pytest.mark.parametrize("protocol, tail, fraction, empty, longest, advice", [
    # users of 1-3 items: every item stays in train
    ("random", 2, 0.1, "no valid and no test", 3, r"hold out more \(--fraction\)"),
    # two items each: the test takes one, train keeps the other
    ("competition", 1, 0.0, "no valid", 2, r"hold out more \(--tail, --fraction\)"),
    ("temporal", 3, 0.1, "no valid", 3, r"hold out a shorter tail \(--tail 1 or less\)"),
    ("temporal", 2, 0.1, "no valid", 3, r"hold out a shorter tail \(--tail 1 or less\)"),
])
def test_a_split_holding_no_validation_or_test_items_is_refused(protocol, tail, fraction, empty, longest, advice):
    """The message names only the options the protocol reads, and which way to move them."""
    tiny = pd.DataFrame({"user": [1, 2, 2, 3, 3, 3], "item": [1, 1, 2, 1, 2, 3], "timestamp": [1, 1, 2, 1, 2, 3]})
    if longest == 2:
        tiny = pd.DataFrame({"user": [1, 1, 2, 2], "item": [1, 2, 1, 3], "timestamp": [1, 2, 1, 2]})
    with pytest.raises(SplitError, match=f"holds {empty} items: .* the longest history here has {longest}; .*{advice}"):
        make_split(tiny, SplitSpec(protocol=protocol, tail=tail, fraction=fraction, seed=0))
