"""`movierec split`, `movierec export` and `movierec data`: data sets in, files out."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from movierec.cli.common import (
    DataDir,
    MinItemUsers,
    MinRating,
    MinUserItems,
    app,
    console,
    data_app,
    export_app,
    fail,
    print_notes,
)
from movierec.exceptions import ConfigError, MovieRecError


@app.command("split")
def split_command(
    data: str = typer.Option("ml-100k", "--data", help="Named data set (ml-100k, ml-1m, ...) or a path."),
    data_dir: Path | None = DataDir,
    protocol: str = typer.Option("competition", "--protocol", help="competition, random or temporal."),
    tail: int | None = typer.Option(None, "--tail", help="Last items held out per user (competition, temporal). "
                                    "Default: 2."),
    fraction: float | None = typer.Option(None, "--fraction", help="Share held out at random (competition, random). "
                                          "Default: 0.1."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random hold-outs and of the order of items of one second."),
    out: Path = typer.Option(..., "--out", help="Folder for train/valid/test.csv and checksum.sha256."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a split already in --out."),
    min_rating: float | None = MinRating,
    min_user_items: int | None = MinUserItems,
    min_item_users: int | None = MinItemUsers,
) -> None:
    """Split a data set and write train/valid/test.csv with a checksum."""
    from movierec.data.download import resolve
    from movierec.data.filters import DataFilter, read_filtered
    from movierec.split import make_split, write_split

    try:
        if (out / "train.csv").exists() and not overwrite:
            raise ConfigError(f"{out} already holds a split; give --overwrite to replace it, or another --out")
        spec = split_spec(protocol, tail, fraction, seed)
        dataset = read_filtered(resolve(data, data_dir), DataFilter(min_rating, min_user_items or 0, min_item_users or 0))
        split = make_split(dataset.interactions, spec)
        checksum = write_split(split, out)
    except (MovieRecError, OSError) as error:
        fail(error)
        return
    print_notes(dataset.notes)  # what reading did (duplicates collapsed, ids read as text), as `run` says it
    sizes = split.summary()
    console.print(f"train {sizes['train']:,}, valid {sizes['valid']:,}, test {sizes['test']:,} interactions "
                  f"({sizes['test_users']:,} test users) -> {out}\nsha256 {checksum}")


def split_spec(protocol: str, tail: int | None, fraction: float | None, seed: int):
    """The split the options ask for; an option the protocol does not read is an error, not ignored."""
    from movierec.split.splitters import PROTOCOL_READS, SplitSpec, unread

    given = {name: value for name, value in (("tail", tail), ("fraction", fraction)) if value is not None}
    for name in unread(protocol, given):
        raise ConfigError(f"--{name} has no effect with --protocol {protocol}, which holds out "
                          f"{' and '.join('--' + read for read in PROTOCOL_READS[protocol])} only")
    return SplitSpec(protocol, seed=seed, **given)


@export_app.command("recbole")
def export_recbole_command(
    split_dir: Path = typer.Option(..., "--split-dir"),
    out: Path = typer.Option(..., "--out"),
    name: str = typer.Option("movierec", "--name", help="RecBole data set name (file prefix)."),
    data: str | None = typer.Option(None, "--data", help="Data set whose side fields go to .item/.user."),
    data_dir: Path | None = DataDir,
) -> None:
    """Write the split as RecBole benchmark files (NAME.train/valid/test.inter)."""
    from movierec.data.download import resolve
    from movierec.data.readers import read_dataset
    from movierec.export.recbole import export_recbole
    from movierec.split import EncodedSplit, read_split
    from movierec.split.encoded import foreign_fields_notes

    try:
        dataset = read_dataset(resolve(data, data_dir)) if data else None
        split = read_split(split_dir)
        written = export_recbole(split, out, name, dataset)
        notes = foreign_fields_notes(EncodedSplit(split, dataset), dataset) if dataset is not None else []
    except (MovieRecError, OSError) as error:
        fail(error)
        return
    print_notes(notes)  # the side files are written as asked, but match nothing of the split
    for path in written:
        console.print(str(path))
    console.print(f"RecBole config: dataset: {name}, data_path: {out}, benchmark_filename: [train, valid, test]",
                  markup=False, highlight=False)  # the brackets are YAML, not rich markup


@data_app.command("download")
def download(name: str, data_dir: Path | None = DataDir) -> None:
    """Fetch a named MovieLens data set from GroupLens into the data directory."""
    from movierec.data.download import resolve

    try:
        console.print(str(resolve(name, data_dir)))
    except (MovieRecError, OSError) as error:
        fail(error)


@data_app.command("info")
def info(data: str, data_dir: Path | None = DataDir) -> None:
    """Read a data set and print its size and side fields."""
    from movierec.data.download import resolve
    from movierec.data.readers import read_dataset

    try:
        dataset = read_dataset(resolve(data, data_dir, download=False))
    except (MovieRecError, OSError) as error:
        fail(error)
        return
    console.print_json(json.dumps(dataset.summary() | {"notes": dataset.notes}))



@data_app.command("synth")
def synth(
    preset: str = typer.Option("competition", "--preset", help="ml100k, competition or ml20m."),
    out: Path = typer.Option(..., "--out", help="Folder to write (competition layout)."),
    seed: int = typer.Option(0, "--seed"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a data set synth wrote there (or an "
                                   "empty folder); nothing else."),
) -> None:
    """Write a synthetic MovieLens-like data set of a preset's size (for benchmarks)."""
    from movierec.data.synth import synthesize

    try:
        summary = synthesize(preset, out, seed=seed, overwrite=overwrite)
    except (MovieRecError, OSError) as error:
        fail(error)
        return
    console.print(f"{summary.n_users} users, {summary.n_items} items, {summary.n_interactions} interactions "
                  f"-> {summary.path} ({summary.seconds:.1f}s)")
