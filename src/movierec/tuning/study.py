"""`movierec tune`: an Optuna study per model, in a study folder, shared by any number of workers.

Storage decides who can share a study. The default is Optuna's journal file in the
study folder (safe for several processes of one machine, nothing to install); any
Optuna storage URL also works, and many machines share one study through a database
server (``postgresql+psycopg2://user@host/db``). A study that exists is resumed: its
trials count, the new ones are added. With ``jobs`` > 1 the requested trials are split
among that many worker processes, each with its own sampler seed, so the total is
exactly what was asked for.

The study folder ends with ``best.toml`` (what `movierec run --config` repeats: the
winning parameters fixed), ``trials.csv`` (every trial of every tuned model) and
Optuna's history and parameter-importance plots.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import math
import multiprocessing
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from movierec.atomic import atomic_write_bytes
from movierec.checks import is_whole_number
from movierec.config import RunConfig, fixed_params
from movierec.exceptions import ConfigError, MovieRecError, NothingToTune
from movierec.models.registry import check_model_names, create
from movierec.output import write_csv, write_text
from movierec.split import EncodedSplit, load_encoded
from movierec.split.encoded import require_holdout
from movierec.threads import use_threads
from movierec.tuning.search import Objective, plain, space_of

PRUNERS = ("median", "hyperband", "none")
JOURNAL = "journal.log"
MEMORY = ("memory", ":memory:")  # --storage names that keep the study in this process only


@dataclass(frozen=True)
class TuneSettings:
    """How to search: trials (added to what the study holds), workers, storage, pruning."""

    trials: int = 20
    timeout: float | None = None  # seconds per worker
    study: str = "movierec"
    storage: str | None = None  # None: the journal file of the study folder; "memory": this process only
    jobs: int = 1
    pruner: str = "median"
    out: str = "runs/tune"
    worker: int = 0  # this process's number among those sharing a study (its sampler's seed offset)
    threads: int | None = None  # torch and BLAS threads of each worker (None: its share of the free cores)
    defaults_first: bool = False  # a new study's first trial: the model's defaults (where they lie in the space)

    def __post_init__(self) -> None:
        for name, value, low in (("trials", self.trials, 1), ("jobs", self.jobs, 1), ("worker", self.worker, 0)):
            if not is_whole_number(value, low):
                raise ConfigError(f"--{name} must be a whole number >= {low}, got {value!r}")
        if self.timeout is not None and not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ConfigError(f"--timeout must be a number of seconds > 0, got {self.timeout}")
        if self.pruner not in PRUNERS:
            raise ConfigError(f"--pruner must be one of {', '.join(PRUNERS)}, got {self.pruner!r}")
        if not self.study or any(c in self.study for c in "/\\"):
            raise ConfigError(f"--study must be a plain name, got {self.study!r}")
        if self.storage in MEMORY and self.jobs > 1:
            raise ConfigError(f"--storage {self.storage} keeps the study in one process; --jobs {self.jobs} "
                              "needs a journal file (the default) or a database")


@dataclass
class ModelStudy:
    name: str
    best_value: float
    best_params: dict[str, Any]  # every parameter of the best trial's model
    searched: dict[str, Any]  # the ones the study drew
    complete: int
    pruned: int
    failed: int


def storage_of(settings: TuneSettings) -> optuna.storages.BaseStorage:
    """The journal file in the study folder, a journal file named by path, a database URL,
    or this process's memory (gone when it ends: nothing to resume)."""
    url = settings.storage
    if url in MEMORY:
        return _memory_storage()
    if url is None or "://" not in url:
        path = Path(settings.out) / JOURNAL if url is None else Path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        _check_journal(path)
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    return database_storage(url)


def _check_journal(path: Path) -> None:
    """Refuse a file that is not an Optuna journal (one JSON record a line), such as a
    SQLite file given without its URL: Optuna would fail on it inside the first trial.
    A last line without its line break is one another worker is still writing: not read."""
    if not path.is_file():
        return
    with path.open("rb") as journal:
        if journal.read(16) == b"SQLite format 3\x00":
            raise ConfigError(f"--storage {path} is a SQLite database, not an Optuna journal file; give its URL, "
                              f"sqlite:///{path.absolute()}")
        journal.seek(0)
        for number, line in enumerate(journal, 1):
            try:
                if line.strip() and line.endswith(b"\n"):
                    json.loads(line)
            except ValueError as error:  # UnicodeDecodeError and JSONDecodeError alike
                raise ConfigError(f"--storage {path}, line {number}: not an Optuna journal file ({type(error).__name__}"
                                  f"); for SQLite give a URL, sqlite:///{path.absolute()}") from None


@functools.cache
def _memory_storage() -> optuna.storages.InMemoryStorage:
    """One in-memory storage per `tune` call, so a study reopened after its trials (the summary) finds them."""
    return optuna.storages.InMemoryStorage()


def database_storage(url: str, attempts: int = 5) -> optuna.storages.RDBStorage:
    """Optuna's storage on a database server. Workers that start together on an empty
    database race to create its tables (one of them meets the other's half-made schema):
    the loser waits a moment and connects to the finished schema."""
    import sqlalchemy.exc

    for attempt in range(1, attempts + 1):
        try:
            return optuna.storages.RDBStorage(url)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == attempts:
                raise
            time.sleep(0.5 * attempt)
        except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ConfigError(f"--storage {url!r}: cannot open it ({first_line}); expected e.g. "
                              "postgresql+psycopg2://user@host/db or sqlite:///study.db") from None
    raise ConfigError(f"--storage {url!r}: no attempt was made")


def pruner_of(settings: TuneSettings, epochs: int | None) -> optuna.pruners.BasePruner:
    if settings.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=3)
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=3, max_resource=epochs or "auto")
    return optuna.pruners.NopPruner()


def study_name(settings: TuneSettings, model: str) -> str:
    return f"{settings.study}-{model}"


def open_study(settings: TuneSettings, model: str, *, seed: int, worker: int = 0,
               epochs: int | None = None) -> optuna.Study:
    """The study of `model`, created or resumed. Its sampler's seed mixes the run seed, the
    machine's --worker, the worker process and how many trials the study already holds,
    so a resumed study or another worker draws new points; with workers running side by
    side, TPE's constant liar keeps them from drawing the same point at once."""
    study = optuna.create_study(
        study_name=study_name(settings, model), storage=storage_of(settings), direction="maximize",
        pruner=pruner_of(settings, epochs), load_if_exists=True)
    entropy = [seed, settings.worker, worker, len(study.trials)]
    sampler_seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
    shared = settings.jobs > 1 or settings.storage is not None
    study.sampler = optuna.samplers.TPESampler(seed=sampler_seed, constant_liar=shared)
    return study


def shares(total: int, jobs: int) -> list[int]:
    """`total` trials split among `jobs` workers as evenly as possible (none left out)."""
    return [total // jobs + (i < total % jobs) for i in range(jobs)]


def work(config: RunConfig, settings: TuneSettings, model: str, trials: int, worker: int,
         objective: Objective | None = None) -> None:
    """One worker: `trials` trials of `model` on the shared study (a spawned worker reads the data itself)."""
    if objective is None:
        data = load_encoded(data=config.data, data_dir=config.data_dir, split_dir=config.split_dir,
                            spec=config.split, data_filter=config.data_filter)
        objective = Objective(model, data, config)
    data = objective.data
    study = open_study(settings, model, seed=config.seed, worker=worker, epochs=objective.fixed.get("epochs"))
    check_objective(study, objective, data)
    study.optimize(objective, n_trials=trials, timeout=settings.timeout, catch=())


def check_objective(study: optuna.Study, objective: Objective, data: EncodedSplit) -> None:
    """A resumed study must be about the same split, k and fixed parameters."""
    what = {"split": data.split.checksum(), "k": objective.config.k,
            "fixed": {key: plain(value) for key, value in objective.fixed.items()}}
    recorded = study.user_attrs.get("objective")
    if recorded is None:
        study.set_user_attr("objective", what)
    elif recorded != what:
        differs = next(key for key in what if recorded.get(key) != what[key])
        raise ConfigError(f"study {study.study_name!r} was tuned with another {differs} ({recorded.get(differs)!r}, "
                          f"now {what[differs]!r}); give another --study to start afresh")


def _worker_process(config: RunConfig, settings: TuneSettings, model: str, trials: int, worker: int) -> None:
    """A spawned worker: its share of the cores, Optuna's log kept to warnings, one line on an error."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    use_threads(settings.threads, processes=settings.jobs)
    try:
        work(config, settings, model, trials, worker)
    except MovieRecError as error:
        print(f"error: worker {worker}: {error}", file=sys.stderr)
        sys.exit(2)


def tune(config: RunConfig, settings: TuneSettings, log=print) -> list[ModelStudy]:
    """Tune every model of `config.models` that has something to search; writes the study folder and
    returns each study's summary."""
    check_model_names(config.models, config.params)  # before a study folder, a storage or any trial
    _memory_storage.cache_clear()  # --storage memory: this call's studies only, none from an earlier call
    models = tunable_models(config, log)
    out = Path(settings.out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        storage_of(settings)  # a storage that cannot be opened is an error before the data is read
    except BaseException:
        if created:  # nothing of this study was written: leave no empty folder behind
            shutil.rmtree(out, ignore_errors=True)
        raise
    data = load_encoded(data=config.data, data_dir=config.data_dir, split_dir=config.split_dir, spec=config.split,
                        data_filter=config.data_filter)
    require_holdout(data, config.split_dir or config.data)
    for note in data.notes:  # what reading did (filters, duplicates), as `run` says it
        log(f"note: {note}")
    results = []
    for model in models:
        objective = Objective(model, data, config)  # a bad space is an error before any worker starts
        log(f"{model}: {settings.trials} trials on study {study_name(settings, model)!r} "
            f"({settings.jobs} worker{'s' if settings.jobs > 1 else ''})")
        if settings.defaults_first and settings.worker == 0:  # one machine of those sharing a database queues them
            start_from_defaults(open_study(settings, model, seed=config.seed), objective, log)
        if settings.jobs == 1:
            work(config, settings, model, settings.trials, 0, objective)
        else:
            run_workers(config, settings, model)
        results.append(summarise(open_study(settings, model, seed=config.seed), model, objective))
        log(f"{model}: best valid recall@{config.k} {results[-1].best_value:.4f} "
            f"({results[-1].complete} complete, {results[-1].pruned} pruned)")
    write_outputs(config, settings, results)
    return results


def start_from_defaults(study: optuna.Study, objective: Objective, log=print) -> None:
    """Queue the model's defaults as a new study's first trial (a short search can end
    below them); a parameter whose default lies outside its range is left to the sampler."""
    if study.trials:
        return
    point = objective.default_point()
    drawn = sorted(set(objective.space) - set(point))
    if point:
        study.enqueue_trial(point, skip_if_exists=True)
    if drawn:
        log(f"note: {objective.name}'s first trial draws {', '.join(drawn)}: the default lies outside the space")


def tunable_models(config: RunConfig, log=print) -> list[str]:
    """The models of `config` with something to search, each one's space checked before any
    trial; the others (popularity) are left out with a note, unless none is left."""
    tunable = []
    for model in config.models:
        try:
            _, fixed = space_of(model, config)
            create(model, **fixed).check_params()  # a fixed value no trial could train with
        except NothingToTune as error:
            if len(config.models) == 1:
                raise
            log(f"note: {error}; {model} is left out of the tuning")
            continue
        tunable.append(model)
    if not tunable:
        raise ConfigError(f"none of {', '.join(config.models)} has a parameter to search; name a model "
                          "with a search space (e.g. --models ease,fm) or give a range in [models.NAME]")
    return tunable


def run_workers(config: RunConfig, settings: TuneSettings, model: str) -> None:
    context = multiprocessing.get_context("spawn")  # no torch state forked into the workers
    workers = [context.Process(target=_worker_process, args=(config, settings, model, n, i))
               for i, n in enumerate(shares(settings.trials, settings.jobs)) if n]
    for process in workers:
        process.start()
    for process in workers:
        process.join()
    failed = [process.exitcode for process in workers if process.exitcode != 0]
    if failed:
        raise MovieRecError(f"{len(failed)} of {len(workers)} tuning workers of {model} failed "
                            f"(exit codes {failed}; their errors are above)")


def summarise(study: optuna.Study, model: str, objective: Objective) -> ModelStudy:
    states = [trial.state for trial in study.trials]
    complete = [trial for trial in study.trials if trial.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise ConfigError(f"no trial of {model} completed; every one was pruned or failed")
    best = study.best_trial
    params = dict(best.user_attrs.get("params", best.params))
    return ModelStudy(model, float(best.value), params, {key: params[key] for key in objective.space if key in params},
                      len(complete),
                      states.count(optuna.trial.TrialState.PRUNED), states.count(optuna.trial.TrialState.FAIL))


def write_outputs(config: RunConfig, settings: TuneSettings, results: list[ModelStudy]) -> None:
    out = Path(settings.out)
    best = {result.name: fixed_params(result.best_params) for result in results}
    repeat = dataclasses.replace(config, params=config.params | best, out=str(out / "run"))
    write_text(f"# movierec tune: the best trial of each model, fixed; repeat with\n"
               f"#   movierec run --config {out / 'best.toml'}\n" + repeat.to_toml(), out / "best.toml")
    rows = []
    for result in results:
        study = open_study(settings, result.name, seed=config.seed)
        for trial in study.trials:
            rows.append({"model": result.name, "trial": trial.number, "state": trial.state.name,
                         "value": trial.value, "seconds": trial.duration.total_seconds() if trial.duration else None,
                         "epochs reported": len(trial.intermediate_values),
                         **{f"param {k}": v for k, v in trial.user_attrs.get("params", trial.params).items()
                            if k in trial.params}})
        write_plots(study, out / f"{result.name}-history.png", out / f"{result.name}-importance.png")
    write_csv(pd.DataFrame(rows), out / "trials.csv")


def write_plots(study: optuna.Study, history: Path, importance: Path) -> None:
    """Optuna's matplotlib plots: the optimisation history, and parameter importances where
    enough trials completed for them."""
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    for path, draw in ((history, optuna_plots.plot_optimization_history),
                       (importance, optuna_plots.plot_param_importances)):
        try:
            with warnings.catch_warnings():  # Optuna marks its matplotlib plots experimental
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                warnings.simplefilter("ignore", UserWarning)  # too few trials for importances: no plot
                axes = draw(study)
        except (ValueError, RuntimeError):  # e.g. importances need two complete trials
            continue
        buffer = io.BytesIO()
        axes.figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        plt.close(axes.figure)
        atomic_write_bytes(path, buffer.getvalue())
