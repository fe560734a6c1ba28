"""MovieLens-like synthetic data in the competition layout, for tests and benchmarks.

The real competition data (31,360 users, 6,807 items, 5.15M interactions) and
MovieLens 20M cannot be downloaded on every machine, yet speed and memory have to be
measured at their size. :func:`synthesize` writes a data set of any size that
:func:`movierec.data.readers.read_dataset` reads as the competition layout
(``train_ratings.csv`` with ``user,item,time`` and the per-item ``.tsv`` side files).

The generative story, chosen so that models have something to learn and side
features carry signal:

* every item belongs to one latent *taste cluster*; a cluster has a genre profile,
  a pool of directors and writers and a typical release year, so those side fields
  are correlated with what users who like the cluster watch;
* item popularity follows a Zipf-Mandelbrot power law ``(rank + q) ** -a``;
* user activity is log-normal above a floor (MovieLens keeps users with >= 20);
* a user's taste is a sparse Dirichlet mixture over clusters; each interaction picks
  a cluster from that taste (or, with probability ``explore``, the whole catalogue),
  then an item in it by popularity, without repeating an item;
* timestamps come in sessions: seconds to minutes apart inside a session, days to
  weeks between sessions, from a per-user start date.

Users are generated and written a chunk at a time (``chunk_interactions`` rows), so
memory stays a few hundred MB even at MovieLens-20M size, and the folder appears
only when complete (written under a temporary name, then renamed).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from movierec.checks import is_whole_number
from movierec.exceptions import ConfigError

GENRES = ("Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
          "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
          "War", "Western")
DAY = 86_400


@dataclass(frozen=True)
class SynthSpec:
    """Size and shape of a synthetic data set.

    n_clusters : latent taste groups of items (the structure models can learn).
    taste_concentration : Dirichlet alpha of a user's taste over clusters; small = focused.
    explore : share of interactions drawn from global popularity, ignoring taste.
    popularity_exponent, popularity_offset : item weight ``(rank + offset * n_items) ** -exponent``.
    min_user_items, activity_sigma : user activity ``min + scale * lognormal(0, sigma)``,
        scaled so the total is `n_interactions`, capped at `max_user_share` of the items.
    session_length, session_gap_days : mean interactions per session and mean days between.
    """

    n_users: int
    n_items: int
    n_interactions: int
    n_clusters: int = 40
    taste_concentration: float = 0.08
    explore: float = 0.2
    popularity_exponent: float = 1.2
    popularity_offset: float = 0.003
    min_user_items: int = 20
    activity_sigma: float = 1.0
    max_user_share: float = 0.4
    session_length: float = 12.0
    session_gap_days: float = 20.0
    first_year: int = 1996
    last_year: int = 2015

    def __post_init__(self) -> None:
        if min(self.n_users, self.n_items, self.n_clusters) < 1:
            raise ConfigError(f"synth needs n_users, n_items, n_clusters >= 1, got {self}")
        if self.n_clusters > self.n_items:
            raise ConfigError(f"n_clusters ({self.n_clusters}) cannot exceed n_items ({self.n_items})")
        if not self.n_users * self.min_user_items <= self.n_interactions:
            raise ConfigError(
                f"n_interactions ({self.n_interactions}) is below n_users x min_user_items "
                f"({self.n_users} x {self.min_user_items}); lower min_user_items"
            )
        if self.n_interactions > self.n_users * self.n_items * self.max_user_share:
            raise ConfigError(f"n_interactions ({self.n_interactions}) too many for "
                              f"{self.n_users} users x {self.n_items} items at max_user_share {self.max_user_share}")


PRESETS = {
    "ml100k": SynthSpec(n_users=943, n_items=1_682, n_interactions=100_000, n_clusters=20, first_year=1997,
                        last_year=1998),
    "competition": SynthSpec(n_users=31_360, n_items=6_807, n_interactions=5_154_471),
    "ml20m": SynthSpec(n_users=138_493, n_items=26_744, n_interactions=20_000_263, n_clusters=60),
}


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`synthesize` wrote."""

    path: Path
    n_users: int
    n_items: int
    n_interactions: int
    seconds: float


def resolve_spec(spec: SynthSpec | str) -> SynthSpec:
    """A preset name or a spec -> a spec; unknown names raise ConfigError."""
    if isinstance(spec, SynthSpec):
        return spec
    if spec not in PRESETS:
        raise ConfigError(f"unknown synth preset {spec!r}; expected one of {sorted(PRESETS)}")
    return PRESETS[spec]


def synthesize(spec: SynthSpec | str, out: Path | str, *, seed: int = 0, overwrite: bool = False,
               chunk_interactions: int = 2_000_000) -> SynthSummary:
    """Write a synthetic data set in the competition layout to the folder `out`.

    Parameters
    ----------
    spec : a :class:`SynthSpec` or a preset name (``ml100k``, ``competition``, ``ml20m``).
    out : folder to create; it appears only once every file is written.
    seed : the same seed, spec and `chunk_interactions` give byte-identical files.
    overwrite : replace an existing `out` that this function wrote, or an empty folder
        (otherwise an existing folder is an error: nothing else is deleted).
    chunk_interactions : about how many rows are generated and written at a time.

    Raises
    ------
    ConfigError
        Unknown preset, impossible sizes, or `out` exists without `overwrite` or holds
        something other than a synthetic data set.

    Examples
    --------
    >>> summary = synthesize("ml100k", "/tmp/synth-ml100k", overwrite=True)  # doctest: +SKIP
    >>> summary.n_interactions  # doctest: +SKIP
    100000
    """
    started = time.perf_counter()
    spec = resolve_spec(spec)
    if not is_whole_number(seed, 0):
        raise ConfigError(f"seed must be a whole number >= 0, got {seed!r}")
    out = Path(out)
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} exists; give --overwrite (overwrite=True in Python) to replace it")
    if out.exists() and not (out.is_dir() and ((out / "synth.json").is_file() or not any(out.iterdir()))):
        raise ConfigError(f"{out} is not a synthetic data set (no synth.json): --overwrite replaces only what "
                          "`movierec data synth` wrote; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    world = _World(spec, rng)
    temp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        world.write_side_files(temp)
        n_rows = _write_interactions(world, rng, temp / "train_ratings.csv", chunk_interactions)
        meta = {"spec": asdict(spec), "seed": seed, "interactions": n_rows}
        (temp / "synth.json").write_text(json.dumps(meta, indent=2) + "\n")
        umask = os.umask(0)  # mkdtemp's folder is private (0700); the data set gets a folder's usual mode
        os.umask(umask)
        temp.chmod(0o777 & ~umask)
        if out.exists():
            shutil.rmtree(out)
        os.replace(temp, out)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return SynthSummary(out, spec.n_users, spec.n_items, n_rows, time.perf_counter() - started)


class _World:
    """Item catalogue, side features and user tastes: everything but the interactions."""

    def __init__(self, spec: SynthSpec, rng: np.random.Generator) -> None:
        self.spec = spec
        n_items, n_clusters = spec.n_items, spec.n_clusters
        # Zipf-Mandelbrot weights over a random popularity order of the items
        rank = rng.permutation(n_items)
        weight = (rank + 1 + spec.popularity_offset * n_items) ** -spec.popularity_exponent
        self.popularity = weight / weight.sum()
        # every cluster gets at least one item; the rest at random, clusters of unequal size
        cluster_share = rng.dirichlet(np.full(n_clusters, 2.0))
        self.cluster = np.concatenate([np.arange(n_clusters),
                                       rng.choice(n_clusters, n_items - n_clusters, p=cluster_share)])
        rng.shuffle(self.cluster)
        self.cluster_cum = _grouped_cumulative(self.cluster, self.popularity, n_clusters)
        self.global_cum = np.cumsum(self.popularity)
        self.global_cum[-1] = 1.0
        # raw ids: sparse, unordered like MovieLens movieIds
        self.item_ids = np.sort(rng.choice(np.arange(1, 4 * n_items + 1), n_items, replace=False))
        self.item_ids = self.item_ids[rng.permutation(n_items)]
        self.rng_side = np.random.default_rng(rng.integers(2**63))

    def tastes(self, n_users: int, rng: np.random.Generator) -> np.ndarray:
        """(n_users, n_clusters) sparse Dirichlet taste mixtures (gamma draws, normalised)."""
        gamma = rng.gamma(self.spec.taste_concentration, size=(n_users, self.spec.n_clusters)) + 1e-12
        return gamma / gamma.sum(axis=1, keepdims=True)

    def write_side_files(self, folder: Path) -> None:
        spec, rng = self.spec, self.rng_side
        n_items, n_clusters, n_genres = spec.n_items, spec.n_clusters, len(GENRES)
        # genres: 1-4 per item from its cluster's profile (mixed with the global mix)
        profile = rng.dirichlet(np.full(n_genres, 0.1), size=n_clusters)
        overall = rng.dirichlet(np.full(n_genres, 2.0))
        mix = 0.95 * profile[self.cluster] + 0.05 * overall
        per_item = 1 + rng.binomial(3, 0.3, size=n_items)
        draws = _categorical_rows(rng, mix.cumsum(axis=1), 4)
        keep = np.arange(4)[np.newaxis, :] < per_item[:, np.newaxis]
        genre_pairs = np.unique(np.stack([np.repeat(np.arange(n_items), 4)[keep.ravel()], draws[keep]]), axis=1)
        _write_tsv(folder / "genres.tsv", "item\tgenre", self.item_ids[genre_pairs[0]],
                   np.asarray(GENRES, dtype=object)[genre_pairs[1]])
        # directors and writers: mostly from the cluster's own pool, as studios and auteurs are
        for filename, header, prefix, coverage, per in (
            ("directors.tsv", "item\tdirector", "nm", 0.97, 1), ("writers.tsv", "item\twriter", "wr", 0.9, 2)
        ):
            pool = max(1, n_items // (3 * n_clusters))
            has = rng.random(n_items) < coverage
            count = np.where(has, 1 + (rng.random(n_items) < 0.3) * (per - 1), 0)
            items = np.repeat(np.arange(n_items), count)
            own = rng.random(len(items)) < 0.85
            person = np.where(own, self.cluster[items] * pool + rng.integers(0, pool, len(items)),
                              rng.integers(0, pool * n_clusters, len(items)))
            pairs = np.unique(np.stack([items, person]), axis=1)
            names = np.char.add(prefix, np.char.zfill(pairs[1].astype(str), 7)).astype(object)
            _write_tsv(folder / filename, header, self.item_ids[pairs[0]], names)
        # years: a typical decade per cluster, spread around it
        center = rng.uniform(1950, spec.last_year - 3, size=n_clusters)
        year = np.clip(np.rint(center[self.cluster] + rng.normal(0, 8, n_items)), 1915, spec.last_year).astype(int)
        _write_tsv(folder / "years.tsv", "item\tyear", self.item_ids, year.astype(str).astype(object))
        titles = np.char.add(np.char.add("Synthetic Movie ", self.item_ids.astype(str)),
                             np.char.add(" (", np.char.add(year.astype(str), ")")))
        _write_tsv(folder / "titles.tsv", "item\ttitle", self.item_ids, titles.astype(object))


def _write_interactions(world: _World, rng: np.random.Generator, path: Path, chunk_interactions: int) -> int:
    spec = world.spec
    counts = _user_counts(spec, rng)
    ends = np.cumsum(counts)
    schema = pa.schema([("user", pa.int64()), ("item", pa.int64()), ("time", pa.int64())])
    written = 0
    with path.open("wb") as handle:
        handle.write(b"user,item,time\n")
        writer = pacsv.CSVWriter(handle, schema, write_options=pacsv.WriteOptions(include_header=False))
        start = 0
        while start < spec.n_users:
            stop = int(np.searchsorted(ends, ends[start] - counts[start] + chunk_interactions, side="right"))
            stop = max(stop, start + 1)
            chunk_rng = np.random.default_rng([int(rng.integers(2**63)), start])
            users, items, times = _chunk(world, np.arange(start, stop), counts[start:stop], chunk_rng)
            writer.write_table(pa.table([pa.array(users + 1), pa.array(world.item_ids[items]), pa.array(times)],
                                        schema=schema))
            written += len(users)
            start = stop
        writer.close()
    return written


def _user_counts(spec: SynthSpec, rng: np.random.Generator) -> np.ndarray:
    """Per-user interaction counts: floor + log-normal, summing to n_interactions."""
    cap = max(spec.min_user_items, int(spec.max_user_share * spec.n_items))
    raw = rng.lognormal(0.0, spec.activity_sigma, spec.n_users)
    extra = spec.n_interactions - spec.n_users * spec.min_user_items
    counts = np.full(spec.n_users, float(spec.min_user_items))
    for _ in range(20):  # rescale what the cap clipped onto the users below it
        room = cap - counts
        free = room > 0
        if extra <= 0 or not free.any():
            break
        add = np.minimum(extra * raw * free / (raw * free).sum(), room)
        counts += add
        extra -= add.sum()
    whole = np.floor(counts).astype(np.int64)
    short = spec.n_interactions - whole.sum()
    if short > 0:  # hand out the rounding remainder to the users with room
        room = np.flatnonzero(whole < cap)
        whole[rng.choice(room, min(int(short), len(room)), replace=False)] += 1
    return whole


def _chunk(world: _World, users: np.ndarray, counts: np.ndarray, rng: np.random.Generator):
    """Interactions of a run of users: (user index, item index, unix time), user-then-time order."""
    spec = world.spec
    n_items = spec.n_items
    taste_cum = world.tastes(len(users), rng).cumsum(axis=1)
    keys = np.empty(0, dtype=np.int64)
    need = counts.copy()
    for round_ in range(12):  # redraw for users whose draws repeated items
        local = np.repeat(np.arange(len(users)), np.ceil(need * 1.25).astype(np.int64) + 2 * (need > 0))
        if round_ < 4:
            items = _draw_items(world, rng, taste_cum, local)
        else:  # a focused heavy user can exhaust their clusters: fill from the whole catalogue
            items = rng.integers(0, n_items, len(local))
        keys = _sorted_unique(np.concatenate([keys, local * n_items + items]))
        need = np.maximum(counts - np.bincount(keys // n_items, minlength=len(users)), 0)
        if not need.any():
            break
    local, items = keys // n_items, keys % n_items
    # keep each user's first `count` distinct items in a random order: the viewing order
    order = np.lexsort((rng.random(len(keys)), local))
    local, items = local[order], items[order]
    starts = np.concatenate([[0], np.cumsum(np.bincount(local, minlength=len(users)))])
    position = np.arange(len(local)) - starts[local]
    keep = position < counts[local]
    local, items, position = local[keep], items[keep], position[keep]
    times = _session_times(spec, rng, local, position, len(users))
    return users[local], items, times


def _draw_items(world: _World, rng: np.random.Generator, taste_cum: np.ndarray, local: np.ndarray) -> np.ndarray:
    n_clusters = world.spec.n_clusters
    flat = (taste_cum + np.arange(len(taste_cum))[:, np.newaxis]).ravel()
    cluster = np.searchsorted(flat, local + rng.random(len(local)) * taste_cum[local, -1], side="right")
    cluster = np.minimum(cluster - local * n_clusters, n_clusters - 1)
    order, flat_items = world.cluster_cum
    position = np.searchsorted(flat_items, cluster + rng.random(len(local)), side="right")
    items = order[np.minimum(position, len(order) - 1)]
    explore = rng.random(len(local)) < world.spec.explore
    anywhere = np.searchsorted(world.global_cum, rng.random(int(explore.sum())), side="right")
    items[explore] = np.minimum(anywhere, world.spec.n_items - 1)
    return items


def _session_times(spec: SynthSpec, rng: np.random.Generator, local: np.ndarray, position: np.ndarray,
                   n_users: int) -> np.ndarray:
    """Unix seconds per row: per-user start, short gaps within sessions, long ones between."""
    begin = int(np.datetime64(f"{spec.first_year}-01-01", "s").astype(np.int64))
    end = int(np.datetime64(f"{spec.last_year}-12-31", "s").astype(np.int64))
    new_session = (rng.random(len(local)) < 1.0 / spec.session_length) & (position > 0)
    user_gap = spec.session_gap_days * DAY * rng.lognormal(0.0, 1.0, n_users)
    step = np.where(new_session, rng.exponential(1.0, len(local)) * user_gap[local],
                    30 + rng.exponential(150.0, len(local)))
    step[position == 0] = 0
    elapsed = np.cumsum(step)  # rows are in (user, position) order: subtract each user's base
    first = np.flatnonzero(position == 0)
    base = np.zeros(n_users)
    base[local[first]] = elapsed[first]
    elapsed -= base[local]
    span = np.zeros(n_users)
    np.maximum.at(span, local, elapsed)
    start = begin + rng.random(n_users) * np.maximum(end - begin - span, 0)
    return (start[local] + elapsed).astype(np.int64)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    # sort + neighbour compare: several times faster than np.unique's hash path here
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def _grouped_cumulative(group: np.ndarray, weight: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Items sorted by group and ``group + within-group cumulative share`` (ends at group + 1).

    One searchsorted of ``g + u`` (u uniform in [0, 1)) then draws an item of group g
    by weight, for every draw at once.
    """
    order = np.argsort(group, kind="stable")
    sorted_group, sorted_weight = group[order], weight[order]
    cum = np.cumsum(sorted_weight)
    totals = np.bincount(sorted_group, weights=sorted_weight, minlength=n_groups)
    before = np.concatenate([[0.0], np.cumsum(totals)[:-1]])
    within = (cum - before[sorted_group]) / totals[sorted_group]
    last = np.r_[sorted_group[1:] != sorted_group[:-1], True]
    within[last] = 1.0
    return order, sorted_group + within


def _categorical_rows(rng: np.random.Generator, cum: np.ndarray, draws: int) -> np.ndarray:
    """(n_rows, draws) category indices, row r drawn from the cumulative row `cum[r]`."""
    n_rows, n_cats = cum.shape
    cum = cum / cum[:, -1:]
    flat = (cum + np.arange(n_rows)[:, np.newaxis]).ravel()
    rows = np.repeat(np.arange(n_rows), draws)
    found = np.searchsorted(flat, rows + rng.random(len(rows)), side="right") - rows * n_cats
    return np.minimum(found, n_cats - 1).reshape(n_rows, draws)


def _write_tsv(path: Path, header: str, items: np.ndarray, values: np.ndarray) -> None:
    lines = np.char.add(np.char.add(items.astype(str), "\t"), values.astype(str))
    path.write_text(header + "\n" + "\n".join(lines.tolist()) + "\n", encoding="utf-8")


def with_size(preset: str, *, scale: float) -> SynthSpec:
    """A preset with users and interactions scaled by `scale` (items kept), for size sweeps."""
    spec = resolve_spec(preset)
    return replace(spec, n_users=max(1, int(spec.n_users * scale)),
                   n_interactions=max(spec.min_user_items, int(spec.n_interactions * scale)))
