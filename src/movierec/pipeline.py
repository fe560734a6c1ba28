"""The end-to-end run behind `movierec run`: tune on validation, test, write the run folder.

For each model: every point of its grid is fitted on train and scored on valid
(train masked); the best by Recall@k is then tested. With refit (the default, the
competition's setting) it is refitted on train+valid and recommends from that
history; without (RecBole's setting) the train-fitted model recommends from train.
Either way train+valid items are masked at test time.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from movierec.config import RunConfig
from movierec.evaluate import Evaluation, evaluate
from movierec.exceptions import ConfigError
from movierec.models.base import Recommender, RefitAware
from movierec.models.members import accepts, fit_model
from movierec.models.registry import MODELS, create
from movierec.output import markdown_table, recommendations_frame, write_csv, write_json, write_text
from movierec.prepare import Prepared, prepare

Log = Callable[[str], None]


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
    # the fit chosen on validation (train, early-stopped on valid), kept only while an
    # ensemble of the run's models still needs it
    validated_model: Recommender | None = field(default=None, repr=False)


@dataclass
class RunResult:
    out: Path
    results: dict[str, ModelResult]
    best: str
    split_checksum: str


def run(config: RunConfig, log: Log = print) -> RunResult:
    """Run the whole pipeline described by `config`; returns what was written."""
    started = time.perf_counter()
    prepared = prepare(config)
    for note in prepared.notes:
        log(f"note: {note}")
    log(
        f"data: {prepared.idmap.n_users} users, {prepared.idmap.n_items} items; "
        f"train {prepared.train.nnz}, valid {prepared.valid.nnz}, test {prepared.test.nnz}"
    )
    results = {name: run_model(name, prepared, config, log, keep_model=config.ensemble) for name in config.models}
    if config.ensemble:
        # the members as validated above are the ensemble's: it tunes the blend, not the members again
        validated = {name: result.validated_model for name, result in results.items()}
        results = {name: dataclasses.replace(result, validated_model=None) for name, result in results.items()}
        results["ensemble"] = run_model("ensemble", prepared, ensemble_config(config, results), log,
                                        fitted_members=validated)
        del validated
    key = f"recall@{config.k}"
    best = max(results, key=lambda name: results[name].valid[key])
    out = Path(config.out)
    checksum = prepared.split.checksum()
    if config.submission == "all":
        write_final_submission(best, results[best].refit_params, prepared, config, log)
    write_run(out, config, prepared, results, best, checksum, time.perf_counter() - started)
    log(f"best on validation: {best}; wrote {out}")
    return RunResult(out, results, best, checksum)


def run_model(name: str, prepared: Prepared, config: RunConfig, log: Log, *, keep_model: bool = False,
              fitted_members: dict[str, Recommender] | None = None) -> ModelResult:
    """Tune `name` on validation, then test it (refitted on train+valid unless no-refit).

    `keep_model` keeps the fit chosen on validation in the result; `fitted_members`
    (models fitted on train with valid, by name) go to models that have members.
    """
    key = f"recall@{config.k}"
    trials = []
    best_model: Recommender
    best_valid: Evaluation | None = None
    started = time.perf_counter()
    for params in param_grid(name, config):
        model = fit(create(name, **params), prepared.train, prepared, ("train",), valid=prepared.valid,
                    fitted_members=fitted_members)
        result = evaluate(model.score_out_of_fold, prepared.valid, exclude=prepared.train, k=config.k,
                          batch_size=config.batch_size)
        trials.append({"params": params, **result.metrics})
        log(f"{name} {params}: valid {key} {result[key]:.4f}")
        if best_valid is None or result[key] > best_valid[key]:
            best_model, best_valid = model, result
    params = best_model.get_params()
    # what to train with when no validation is left to stop on (e.g. the best epoch count)
    refit_params = params | (best_model.refit_params() if isinstance(best_model, RefitAware) else {})
    if config.refit:
        model = fit(create(name, **refit_params), prepared.train_valid, prepared, ("train", "valid"))
        history_note = "refit on train+valid"
    else:
        model = best_model
        history_note = "fitted on train"
    seen = prepared.train_valid
    test = evaluate(model.score, prepared.test, exclude=seen, k=config.k, batch_size=config.batch_size)
    seconds = time.perf_counter() - started
    log(f"{name}: test {key} {test[key]:.4f}, ndcg@{config.k} {test[f'ndcg@{config.k}']:.4f} ({history_note}, {seconds:.1f}s)")
    if config.save_models:
        model.save(Path(config.out) / "models" / f"{name}.pkl")
    return ModelResult(name, params, refit_params, best_valid.metrics, test.metrics, trials, seconds, test,
                       best_model if keep_model else None)


def fit(model: Recommender, X: sp.csr_matrix, prepared: Prepared, parts: tuple[str, ...],
        valid: sp.csr_matrix | None = None, fitted_members: dict[str, Recommender] | None = None) -> Recommender:
    """Fit with side features, and with the parts' timestamps (and already fitted
    members) for models that take them."""
    times = prepared.times(parts) if accepts(model, "timestamps") else None
    return fit_model(model, X, features=prepared.features, valid=valid, timestamps=times, fitted_members=fitted_members)


def ensemble_config(config: RunConfig, results: dict[str, ModelResult]) -> RunConfig:
    """`config` with [models.ensemble] fixed to the models just run and their tuned parameters.

    The members keep the parameters each won on validation (so the fits validated alone
    are reused), the blend weights are tuned on validation too (see
    movierec.ensemble.model), and the refit carries each member's stopping point (e.g.
    FM's epochs); options the user gave under [models.ensemble] (method, n_trials, ...) win.
    """
    members = tuple(name for name in results if name != "ensemble")
    if len(members) < 2:
        raise ConfigError(f"--ensemble blends at least two models; got {list(members)} (e.g. --models ease,fm --ensemble)")
    fixed = {"members": members, "member_params": {name: results[name].params for name in members}}
    return dataclasses.replace(config, params=config.params | {"ensemble": fixed | config.params.get("ensemble", {})})


def write_final_submission(name: str, params: dict[str, Any], prepared: Prepared, config: RunConfig, log: Log) -> None:
    """Refit the chosen model on every interaction and list k unseen items for every user."""
    everything = (prepared.train_valid + prepared.test).tocsr()
    model = fit(create(name, **params), everything, prepared, ("train", "valid", "test"))
    users = np.arange(prepared.idmap.n_users)
    items, scores = model.recommend(users, config.k, exclude=everything, batch_size=config.batch_size)
    frame = recommendations_frame(prepared.idmap, users, items, scores)
    write_csv(frame[["user", "item"]], Path(config.out) / "submission.csv")
    log(f"submission: {name} refitted on all {everything.nnz} interactions, {len(users)} users")


def param_grid(name: str, config: RunConfig) -> list[dict[str, Any]]:
    """Every combination of the model's grid, overridden by the config's [models.NAME]."""
    cls = MODELS.get(name) or type(create(name))
    grid = {key: list(values) for key, values in cls.param_grid.items()}
    for key, value in config.params.get(name, {}).items():
        grid[key] = list(value) if isinstance(value, list) else [value]
    if "random_state" in _init_params(cls) and "random_state" not in grid:
        grid["random_state"] = [config.seed]
    empty = [key for key, values in grid.items() if not values]
    if empty:
        raise ConfigError(f"[models.{name}]: empty grid for {empty}; give at least one value")
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def _init_params(cls: type) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters) - {"self"}


def write_run(out: Path, config: RunConfig, prepared: Prepared, results: dict[str, ModelResult],
              best: str, checksum: str, seconds: float) -> None:
    """The run folder: metrics.json, recommendations/, submission.csv, config.toml, report.md."""
    for name, result in results.items():
        evaluation = result.test_evaluation
        frame = recommendations_frame(prepared.idmap, evaluation.users, evaluation.items, evaluation.scores)
        write_csv(frame, out / "recommendations" / f"{name}.csv")
        if name == best and config.submission == "test":
            write_csv(frame[["user", "item"]], out / "submission.csv")
    metrics = {
        "split_checksum": checksum,
        "setting": "refit" if config.refit else "no-refit",
        "best_model": best,
        "seconds": round(seconds, 2),
        "split": prepared.split.summary(),
        "notes": prepared.notes,
        "models": {
            name: {"params": r.params, "refit_params": r.refit_params, "valid": r.valid, "test": r.test, "seconds": round(r.fit_seconds, 2),
                   "trials": r.trials}
            for name, r in results.items()
        },
    }
    write_json(metrics, out / "metrics.json")
    write_text(config.to_toml(), out / "config.toml")
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
