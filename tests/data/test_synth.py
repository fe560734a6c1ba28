"""Synthetic MovieLens-like data: sizes, determinism, reader round trip, learnable signal.

One small spec (600 users x 800 items, 40,000 rows) is written once per module; the
signal tests split it per user at random and compare scorers on the held-out part.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from movierec.data.encoded import encode_fields
from movierec.data.idmap import IdMap
from movierec.data.interactions import to_csr
from movierec.data.readers import detect_layout, read_dataset
from movierec.data.synth import PRESETS, SynthSpec, resolve_spec, synthesize
from movierec.evaluate import evaluate
from movierec.exceptions import ConfigError
from movierec.models.ease import EASE
from movierec.split import make_split
from movierec.split.splitters import SplitSpec

SMALL = SynthSpec(n_users=600, n_items=800, n_interactions=40_000, n_clusters=12)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    return synthesize(SMALL, tmp_path_factory.mktemp("synth") / "small", seed=3, chunk_interactions=9_000).path


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_sizes_and_layout(small: Path) -> None:
    assert detect_layout(small) == "competition"
    ratings = pd.read_csv(small / "train_ratings.csv")
    assert list(ratings.columns) == ["user", "item", "time"]
    assert len(ratings) == SMALL.n_interactions
    assert ratings["user"].nunique() == SMALL.n_users
    assert not ratings.duplicated(["user", "item"]).any()
    per_user = ratings.groupby("user").size()
    assert per_user.min() >= SMALL.min_user_items
    assert per_user.max() <= SMALL.max_user_share * SMALL.n_items
    # rows are grouped by user and in time order within a user
    assert ratings["user"].is_monotonic_increasing
    assert (ratings.groupby("user")["time"].diff().dropna() >= 0).all()
    for name in ("genres.tsv", "directors.tsv", "writers.tsv", "years.tsv", "titles.tsv"):
        assert (small / name).read_text().split("\n", 1)[0].startswith("item\t")
    assert not list(small.parent.glob(".small.*")), "temporary folder left behind"


def test_power_law_popularity_and_skewed_activity(small: Path) -> None:
    ratings = pd.read_csv(small / "train_ratings.csv")
    counts = ratings["item"].value_counts().to_numpy()
    top_tenth = counts[: len(counts) // 10].sum() / counts.sum()
    assert top_tenth > 0.3  # uniform popularity would give 0.1
    per_user = ratings.groupby("user").size()
    assert per_user.mean() > 1.2 * per_user.median()  # log-normal: long right tail


def test_reader_round_trip(small: Path) -> None:
    dataset = read_dataset(small)
    ratings = pd.read_csv(small / "train_ratings.csv")
    assert dataset.n_interactions == len(ratings)
    assert set(dataset.item_fields) == {"genre", "director", "writer", "year"}
    items = set(ratings["item"])
    genres = dataset.item_fields["genre"].values
    assert set(genres["id"]) == items  # every item has at least one genre
    assert genres.groupby("id").size().max() <= 4
    assert dataset.item_titles is not None and len(dataset.item_titles) == SMALL.n_items


def test_same_seed_same_bytes_other_seed_differs(small: Path, tmp_path: Path) -> None:
    again = synthesize(SMALL, tmp_path / "again", seed=3, chunk_interactions=9_000).path
    other = synthesize(SMALL, tmp_path / "other", seed=4, chunk_interactions=9_000).path
    assert digest(again) == digest(small)
    assert digest(other)["train_ratings.csv"] != digest(small)["train_ratings.csv"]


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_a_seed_that_is_not_a_whole_number_from_0_is_refused_before_writing(tmp_path: Path, seed) -> None:
    with pytest.raises(ConfigError, match="seed must be a whole number >= 0"):
        synthesize(SMALL, tmp_path / "never", seed=seed)
    assert not (tmp_path / "never").exists()


def test_existing_folder_needs_overwrite(small: Path, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    with pytest.raises(ConfigError, match="overwrite"):
        synthesize(SMALL, target)
    assert (target / "keep.txt").exists()
    with pytest.raises(ConfigError, match="not a synthetic data set"):  # --overwrite deletes only its own
        synthesize(SMALL, target, overwrite=True)
    assert (target / "keep.txt").exists()
    (target / "keep.txt").unlink()
    synthesize(SMALL, target, overwrite=True)  # an empty folder is taken
    (target / "extra.txt").write_text("x")
    synthesize(SMALL, target, overwrite=True)  # a data set it wrote is replaced whole
    assert not (target / "extra.txt").exists() and (target / "train_ratings.csv").exists()
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask  # not the private mode of a temporary folder


def test_bad_specs_and_presets() -> None:
    with pytest.raises(ConfigError, match="preset"):
        resolve_spec("ml1b")
    with pytest.raises(ConfigError, match="min_user_items"):
        SynthSpec(n_users=100, n_items=50, n_interactions=100)
    with pytest.raises(ConfigError, match="n_clusters"):
        SynthSpec(n_users=10, n_items=5, n_interactions=200, n_clusters=6, min_user_items=1)
    assert PRESETS["ml20m"].n_interactions == 20_000_263
    assert PRESETS["competition"].n_items == 6_807


@pytest.fixture(scope="module")
def held_out(small: Path):
    dataset = read_dataset(small)
    split = make_split(dataset.interactions, SplitSpec("random", fraction=0.2, seed=0))
    every = pd.concat([split.train, split.valid, split.test])
    idmap = IdMap.from_ids(every["user"], every["item"])
    train = (to_csr(split.train, idmap) + to_csr(split.valid, idmap)).tocsr()
    test = to_csr(split.test, idmap)
    genres = encode_fields(dataset.item_fields, idmap.items)[0]["genre"].matrix
    return train, test, genres


def recall(score, train: sp.csr_matrix, test: sp.csr_matrix) -> float:
    return evaluate(score, test, exclude=train, k=10)["recall@10"]


def test_side_features_and_collaborative_signal(held_out) -> None:
    """Genres alone beat popularity; EASE beats both: the data has learnable structure."""
    train, test, genres = held_out
    popularity = np.asarray(train.sum(axis=0)).ravel()
    share = popularity / popularity.sum()
    # genre lift: the user's share of each genre over its overall share, summed over
    # an item's genres (each genre weighted 1/its count), times the item's popularity
    genre_weight = sp.csr_matrix(genres.multiply(1.0 / np.maximum(genres.sum(axis=1), 1)))
    profile = np.asarray((train @ genre_weight).toarray())
    profile /= np.maximum(profile.sum(axis=1, keepdims=True), 1e-9)
    overall = np.asarray(genre_weight.T @ popularity).ravel()
    lift = (profile / (overall / overall.sum())) @ genre_weight.T.toarray()  # users x items
    by_genre = lambda users: lift[users] * share  # noqa: E731
    by_popularity = lambda users: np.tile(share, (len(users), 1))  # noqa: E731
    rng = np.random.default_rng(0)
    at_random = lambda users: rng.random((len(users), train.shape[1]))  # noqa: E731
    random_recall = recall(at_random, train, test)
    popularity_recall = recall(by_popularity, train, test)
    genre_recall = recall(by_genre, train, test)
    ease_recall = recall(EASE(l2=50.0).fit(train).score, train, test)
    assert random_recall < popularity_recall < genre_recall < ease_recall
    assert genre_recall > 1.1 * popularity_recall


def test_scaled_spec_keeps_density() -> None:
    from movierec.data.synth import with_size

    half = with_size("competition", scale=0.5)
    assert half.n_items == PRESETS["competition"].n_items
    assert half.n_users == PRESETS["competition"].n_users // 2
    assert dataclasses.replace(half, n_users=1, n_interactions=20).n_interactions == 20


def test_cli_synth_writes_a_readable_folder(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from movierec.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["data", "synth", "--preset", "ml100k", "--out", str(tmp_path / "d"), "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert read_dataset(tmp_path / "d").n_interactions == 100_000
    again = runner.invoke(app, ["data", "synth", "--preset", "ml100k", "--out", str(tmp_path / "d")])
    assert again.exit_code == 2 and "overwrite" in again.output
