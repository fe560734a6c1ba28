"""The end-to-end run behind `movierec run`: tune on validation, test, write the run folder.

For each model: every point of its grid is fitted on train and scored on valid
(train masked); where it has a line search (EASE's l2, by golden section), the grid
is tried at the search's start and the search runs for the grid's best (see
:func:`search_grid`); the best by Recall@k is then tested. With refit (the default, the
competition's setting) it is refitted on train+valid and recommends from that
history; without (RecBole's setting) the train-fitted model recommends from train, and
a sequence model from each user's sequence continued through the validation items, as
RecBole tests its sequential models. Either way train+valid items are masked at test time.

Models with members (reranker, ensemble) are offered the fits the run already made,
so a member validated alone is not trained again inside them.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from movierec import progress as live
from movierec.config import RunConfig, table_grid
from movierec.evaluate import Evaluation, evaluate, sample_users
from movierec.exceptions import ConfigError
from movierec.models.base import ContinuesSequences, Recommender, RefitAware, ReusesFits, validation_scorer
from movierec.models.composite.base import CompositeModel
from movierec.models.composite.members import member_names
from movierec.models.registry import MODELS, check_model_names, create
from movierec.models.space import LineSearch, golden_section
from movierec.models.torch import distributed
from movierec.output import (
    CATALOGUE,
    check_run_folder,
    markdown_table,
    publish_run,
    recommendations_frame,
    staging_folder,
    write_catalogue,
    write_csv,
    write_json,
    write_text,
)
from movierec.split import EncodedSplit, load_encoded
from movierec.split.encoded import require_holdout

Log = Callable[[str], None]
SEEDED = ("random_state", "valid_k")  # parameters the run sets for every model that has them


@dataclass
class ModelResult:
    name: str
    params: dict[str, Any]  # chosen on validation
    refit_params: dict[str, Any]  # used when refitting without validation
    valid: dict[str, float]
    test: dict[str, float]
    trials: list[dict[str, Any]]
    fit_seconds: float
    test_evaluation: Evaluation = field(repr=False)
    curve: list[dict[str, Any]] = field(default_factory=list)  # per-epoch record of the chosen fit


@dataclass
class RunResult:
    out: Path
    results: dict[str, ModelResult]
    best: str
    split_checksum: str


@dataclass
class Fits:
    """The fits a run made, by model name, kept while a model with members may reuse them."""

    validated: dict[str, Recommender] = field(default_factory=dict)  # on train, early-stopped on valid
    refitted: dict[str, Recommender] = field(default_factory=dict)  # on train+valid

    def clear(self) -> None:
        self.validated.clear()
        self.refitted.clear()


def run(config: RunConfig, log: Log = print, *, finish: Callable[[Path], None] | None = None) -> RunResult:
    """Run the whole pipeline described by `config`; returns what was written.

    `finish` gets the finished run's folder before it is published into ``config.out``
    (the CLI writes report.html there), so what it adds is published with the run.
    """
    started = time.perf_counter()
    check_model_names(config.models, config.params)
    for name in config.models:  # every model's settings before the first one trains
        for params in param_grid(name, config):
            create(name, **params).check_params()
    if config.ensemble and len(config.models) < 2:
        raise ConfigError(f"--ensemble blends at least two models; got {list(config.models)} "
                          "(e.g. --models ease,fm --ensemble)")
    if config.ensemble:  # its [models.ensemble] options over the run's models
        create("ensemble", **({"members": tuple(config.models)} | config.params.get("ensemble", {}))).check_params()
    if distributed.is_main():
        check_run_folder(Path(config.out))  # refuse a folder that is not a run's before reading the data
    data = load_encoded(data=config.data, data_dir=config.data_dir, split_dir=config.split_dir, spec=config.split,
                        data_filter=config.data_filter)
    check_k(config.k, data.idmap.n_items)
    require_holdout(data, config.split_dir or config.data)
    for note in data.notes:
        log(f"note: {note}")
    composite = any(issubclass(MODELS[name], CompositeModel) for name in config.models) or config.ensemble
    unused = [f"[models.{name}] in the config is not used: {name} is not among the models run ({', '.join(config.models)})"
              + ("; a member's settings go in its composite's member_params" if composite else "")
              for name in config.unused_tables()]
    for note in default_members_notes(config) + unused:
        log(f"note: {note}")
    log(f"data: {data.idmap.n_users} users, {data.idmap.n_items} items; "
        f"train {data.train.nnz}, valid {data.valid.nnz}, test {data.test.nnz}")
    out = Path(config.out)
    staging = staging_folder(out)
    if distributed.is_main():
        if staging.exists():  # a run that was stopped left it
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
    try:
        result = _run_into(staging, config, data, log, started)
        if finish is not None and distributed.is_main():
            finish(staging)
    except BaseException:  # the earlier run, if any, stays as it was
        if distributed.is_main():
            shutil.rmtree(staging, ignore_errors=True)
            if not any(out.iterdir()):
                out.rmdir()
        raise
    if distributed.is_main() and publish_run(staging, out):
        log(f"note: {out} held an earlier run; this run replaced it")
    log(f"best on validation: {result.best}; wrote {out}")
    return dataclasses.replace(result, out=out)


def _run_into(staging: Path, config: RunConfig, data: EncodedSplit, log: Log, started: float) -> RunResult:
    """Tune, test and write the run into `staging` (models as they are tested, the rest at the end)."""
    original = config
    config = dataclasses.replace(config, out=str(staging))
    queue = list(config.models) + (["ensemble"] if config.ensemble else [])
    fits = Fits()
    results: dict[str, ModelResult] = {}
    for position, name in enumerate(queue):
        settings = ensemble_config(config, results) if config.ensemble and position == len(queue) - 1 else config
        keep = any(issubclass(MODELS[later], ReusesFits) for later in queue[position + 1:] if later in MODELS)
        results[name] = run_model(name, data, settings, log, fits=fits, keep=keep)
        if not keep:
            fits.clear()
    key = f"recall@{config.k}"
    best = max(results, key=lambda name: results[name].valid[key])
    checksum = data.split.checksum()
    if config.submission == "all":
        write_final_submission(best, results[best].refit_params, data, config, log)
    if distributed.is_main():  # under torchrun every rank runs this; one writes
        write_run(staging, original, data, results, best, checksum, time.perf_counter() - started)
    return RunResult(staging, results, best, checksum)


def default_members_notes(config: RunConfig) -> list[str]:
    """A note per composite model of `config.models` left to its default members, which need
    not be the run's models (``--ensemble`` blends those)."""
    notes = []
    for name in config.models:
        if issubclass(MODELS[name], CompositeModel) and "members" not in config.params.get(name, {}):
            members = member_names(inspect.signature(MODELS[name].__init__).parameters["members"].default)
            notes.append(f"{name} combines its default members ({', '.join(members)}), not the run's other "
                         f"models; [models.{name}] members = [\"ease\", \"fm\", ...] chooses them, --ensemble blends the run's")
    return notes


def check_k(k: int, n_items: int) -> None:
    """A list cannot be longer than the catalogue."""
    if k > n_items:
        raise ConfigError(f"--k {k} exceeds the catalogue's {n_items} items; give --k between 1 and {n_items}")


def run_model(name: str, data: EncodedSplit, config: RunConfig, log: Log, *, fits: Fits | None = None,
              keep: bool = False) -> ModelResult:
    """Tune `name` on validation, then test it (refitted on train+valid unless no-refit).

    `fits` holds the run's earlier fits, offered to models with members; with `keep`,
    this model's validated fit and refit are added to it for later models.
    """
    fits = fits if fits is not None else Fits()
    key = f"recall@{config.k}"
    trials = []
    best_model: Recommender | None = None
    best_valid: Evaluation | None = None
    chosen: dict[str, Any] = {}
    started = time.perf_counter()
    grid = param_grid(name, config)
    search = line_search(name, config)
    valid_users = sample_users(data.valid, config.valid_users, config.seed)

    def validate(params: dict[str, Any]) -> float:
        nonlocal best_model, best_valid, chosen
        model = fit(create(name, **params), data, "train", offered=fits.validated)
        result = evaluate(validation_scorer(model), data.valid, exclude=data.train, k=config.k,
                          batch_size=config.batch_size, users=valid_users, owned=True)
        trials.append({"params": params, **result.metrics})
        log(f"{name} {params}: valid {key} {result[key]:.4f}")
        if best_valid is None or result[key] > best_valid[key]:
            best_model, best_valid, chosen = model, result, params
        line.advance(description=f"{name}: tuning (best valid {key} {best_valid[key]:.4f})")
        return result[key]

    total = len(grid) if search is None else 2 * len(grid) + search.max_fits - 2
    with live.task(f"{name}: tuning", total=total) as line:
        if search is None:
            for params in grid:
                validate(params)
        else:
            search_grid(validate, grid, search)
    assert best_model is not None and best_valid is not None  # a grid has at least one point
    params = best_model.get_params()
    if len(trials) > 1:
        log(f"{name}: chose {chosen}: valid {key} {best_valid[key]:.4f}")
    # what to train with when no validation is left to stop on (e.g. the best epoch count)
    refit_params = params | (best_model.refit_params() if isinstance(best_model, RefitAware) else {})
    if keep:
        fits.validated[name] = best_model
    if config.refit:
        model = fit(create(name, **refit_params), data, "train_valid", offered=fits.refitted)
        history_note = "refit on train+valid"
        if keep:
            fits.refitted[name] = model
    elif isinstance(best_model, ContinuesSequences):
        # the validation items are history at test time: sequences go on through them
        model = best_model.continued(data.train_valid, data.timestamps("train_valid"))
        history_note = "fitted on train; sequences continued through valid"
    else:
        model = best_model
        history_note = "fitted on train"
    test = evaluate(model.scorer(), data.test, exclude=data.train_valid, k=config.k, batch_size=config.batch_size,
                    owned=True)
    seconds = time.perf_counter() - started
    log(f"{name}: test {key} {test[key]:.4f}, ndcg@{config.k} {test[f'ndcg@{config.k}']:.4f} "
        f"({history_note}, {seconds:.1f}s)")
    if config.save_models and distributed.is_main():
        model.save(Path(config.out) / "models" / f"{name}.pkl")
    return ModelResult(name, params, refit_params, best_valid.metrics, test.metrics, trials, seconds, test,
                       training_curve(best_model))


def search_grid(validate: Callable[[dict[str, Any]], float], grid: list[dict[str, Any]],
                search: LineSearch) -> None:
    """A grid beside a line search, one coordinate at a time: every grid point at the
    search's start, the line search for the best of them, the others at the value found.

    EASE pays a full validation ranking per (recency decay, l2) pair (and an n^3
    inverse per l2, which the decays share); searching l2 for every decay costs
    len(grid) x max_fits rankings, this 2 x len(grid) + max_fits - 2. The last step
    catches a grid point that overtakes the start's best only at another value.
    """
    at_start = [validate(params | {search.param: search.start}) for params in grid]
    winner = grid[int(np.argmax(at_start))]  # the first of the best, as ties keep the earlier
    probed = golden_section(
        lambda value: max(at_start) if value == search.start else validate(winner | {search.param: value}), search)
    found = max(probed, key=lambda probe: probe[1])[0]
    if found != search.start:
        for params in grid:
            if params is not winner:
                validate(params | {search.param: found})


def training_curve(model: Recommender) -> list[dict[str, Any]]:
    """The per-epoch record (loss, validation recall) of a model trained in epochs; [] otherwise."""
    result = getattr(model, "train_result_", None)  # set by the shared torch loop
    return [dict(record) for record in result.history] if result is not None else []


def fit(model: Recommender, data: EncodedSplit, history: str,
        offered: dict[str, Recommender] | None = None) -> Recommender:
    """Fit `model` on one of the split's histories ("train" also passes valid), with that
    history's timestamps and side fields; models with members are offered `offered`."""
    if offered and isinstance(model, ReusesFits):
        model.offer_fits(offered)
    valid = data.valid if history == "train" else None
    return model.fit(data.history(history), features=data.features(history), valid=valid,
                     timestamps=data.timestamps(history))


def ensemble_config(config: RunConfig, results: dict[str, ModelResult]) -> RunConfig:
    """`config` with [models.ensemble] fixed to the models just run and their tuned parameters.

    The members keep the parameters each won on validation (so the fits validated alone
    are reused), the blend weights are tuned on validation too (see
    :mod:`movierec.models.composite.ensemble`), and the refit carries each member's
    stopping point (e.g. FM's epochs); options given under [models.ensemble] (method,
    n_trials, ...) win.
    """
    members = tuple(name for name in results if name != "ensemble")
    if len(members) < 2:
        raise ConfigError(f"--ensemble blends at least two models; got {list(members)} (e.g. --models ease,fm --ensemble)")
    fixed = {"members": members, "member_params": {name: results[name].params for name in members}}
    return dataclasses.replace(config, params=config.params | {"ensemble": fixed | config.params.get("ensemble", {})})


def write_final_submission(name: str, params: dict[str, Any], data: EncodedSplit, config: RunConfig,
                           log: Log) -> None:
    """Refit the chosen model on every interaction and list k unseen items for every user."""
    model = fit(create(name, **params), data, "all")
    users = np.arange(data.idmap.n_users)
    items, scores = model.recommend(users, config.k, exclude=data.everything, batch_size=config.batch_size)
    frame = recommendations_frame(data.idmap, users, items, scores)
    if distributed.is_main():
        write_csv(frame[["user", "item"]], Path(config.out) / "submission.csv")
    log(f"submission: {name} refitted on all {data.everything.nnz} interactions, {len(users)} users")


def param_grid(name: str, config: RunConfig) -> list[dict[str, Any]]:
    """Every combination of the model's grid, overridden by the config's [models.NAME].

    A list value is a grid (a list inside it, one sequence-valued point: see
    :func:`movierec.config.fixed_params`), except a list of names for `members`, one
    set of members (:func:`movierec.config.one_sequence_value`); a scalar or a table is
    one fixed value. The run's seed and
    k become `random_state` and `valid_k` of models that take them, unless set there.
    The parameter of the model's line search, unless the config sets it, is not in
    the grid: :func:`line_search` gives it.
    """
    if name not in MODELS:
        create(name)  # the error naming the models there are
    cls = MODELS[name]
    grid = {key: list(values) for key, values in cls.param_grid.items()}
    grid |= table_grid(config.params.get(name, {}))
    run_values = {"random_state": config.seed, "valid_k": config.k}
    accepted = set(inspect.signature(cls.__init__).parameters)
    for key in SEEDED:
        if key in accepted and key not in grid:
            grid[key] = [run_values[key]]
    empty = [key for key, values in grid.items() if not values]
    if empty:
        raise ConfigError(f"[models.{name}]: empty grid for {empty}; give at least one value")
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def line_search(name: str, config: RunConfig) -> LineSearch | None:
    """The model's golden-section search, unless the config gives its parameter (a value or a grid)."""
    search = MODELS[name].line_search
    if search is None or search.param in config.params.get(name, {}):
        return None
    return search


def write_run(out: Path, config: RunConfig, data: EncodedSplit, results: dict[str, ModelResult],
              best: str, checksum: str, seconds: float) -> None:
    """The run folder: metrics.json, recommendations/, submission.csv, config.toml, report.md,
    and the catalogue that serving its models (models/) and `movierec report` need."""
    for name, result in results.items():
        evaluation = result.test_evaluation
        frame = recommendations_frame(data.idmap, evaluation.users, evaluation.items, evaluation.scores)
        write_csv(frame, out / "recommendations" / f"{name}.csv")
        if name == best and config.submission == "test":
            write_csv(frame[["user", "item"]], out / "submission.csv")
    metrics = {
        "split_checksum": checksum,
        "setting": "refit" if config.refit else "no-refit",
        "best_model": best,
        "k": config.k,
        "seconds": round(seconds, 2),
        "split": data.split.summary(),
        "notes": data.notes,
        "models": {
            name: {"params": r.params, "refit_params": r.refit_params, "valid": r.valid, "test": r.test,
                   "seconds": round(r.fit_seconds, 2), "trials": r.trials, "curve": r.curve}
            for name, r in results.items()
        },
    }
    write_json(metrics, out / "metrics.json")
    write_catalogue(out / CATALOGUE, data.idmap, data.train_valid, data.dataset, test=data.test)
    write_text(config.with_absolute_paths().to_toml(), out / "config.toml")
    write_text(checksum + "\n", out / "split.sha256")
    k = config.k
    rows = [
        {"model": name, f"valid recall@{k}": r.valid[f"recall@{k}"], f"test recall@{k}": r.test[f"recall@{k}"],
         f"test recall_plain@{k}": r.test[f"recall_plain@{k}"], f"test ndcg@{k}": r.test[f"ndcg@{k}"],
         f"coverage@{k}": r.test[f"coverage@{k}"], "params": r.params, "seconds": f"{r.fit_seconds:.1f}"}
        for name, r in results.items()
    ]
    columns = list(rows[0])
    report = (
        f"# movierec run\n\nsetting: {metrics['setting']}; split checksum `{checksum}`; "
        f"best on validation: **{best}**\n\n" + markdown_table(rows, columns)
    )
    write_text(report, out / "report.md")
