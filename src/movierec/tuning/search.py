"""One trial of a model: parameters drawn from its search space, fitted on train, scored on valid.

The objective is exactly `movierec run`'s validation step (the same fit, the same
masking, the same out-of-fold scorer for the reranker), so a tuned figure is the one
`movierec run` reports for those parameters. Models trained in epochs report each
epoch's validation recall to the trial, and a pruner may stop them early; a model
that trains several networks (a VAE's seeds, CFM's FM pretraining) is judged by the
first one it trains, so a step means the same epoch in every trial.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import optuna

from movierec.config import RunConfig, one_sequence_value
from movierec.evaluate import evaluate
from movierec.exceptions import ConfigError, NothingToTune
from movierec.models.base import validation_scorer
from movierec.models.observe import observe_epochs
from movierec.models.registry import MODELS, check_param_types, create
from movierec.models.space import Choice, Dimension, FloatRange, IntRange, dimension_from_toml
from movierec.pipeline import SEEDED, fit
from movierec.split import EncodedSplit


def space_of(name: str, config: RunConfig) -> tuple[dict[str, Dimension], dict[str, Any]]:
    """(dimensions to search, fixed parameters) of model `name` under `config`.

    The model's declared ``search_space``, then its [models.NAME] table on top: a list
    there becomes a choice (but a list of names for `members` is one set of them),
    ``{low, high[, log]}`` or ``{choices = [...]}`` a range or a choice, and any other
    value fixes the parameter (it is not searched).
    """
    if name not in MODELS:
        create(name)  # the error naming the models there are
    cls = MODELS[name]
    space = dict(cls.search_space)
    fixed: dict[str, Any] = {}
    for key, value in config.params.get(name, {}).items():
        space.pop(key, None)
        if one_sequence_value(key, value):  # members = ["ease", "fm"]: one set of names, as a run reads it
            fixed[key] = tuple(value)
        elif isinstance(value, list):
            if not value:
                raise ConfigError(f"[models.{name}] {key}: a choice needs at least one value")
            space[key] = Choice(tuple(tuple(v) if isinstance(v, list) else v for v in value))
        elif isinstance(value, dict):  # a range or a choice; a misspelt one is named there
            try:
                space[key] = dimension_from_toml(key, value)
            except ConfigError as error:
                raise ConfigError(f"[models.{name}] {error}") from None
        else:
            fixed[key] = value
    check_param_types(name, fixed)
    accepted = set(inspect.signature(cls.__init__).parameters)
    unknown = sorted(set(space) - accepted)
    if unknown:
        raise ConfigError(f"[models.{name}]: {name} has no parameter {unknown[0]!r} to search")
    run_values = {"random_state": config.seed, "valid_k": config.k}
    fixed |= {key: run_values[key] for key in SEEDED if key in accepted and key not in fixed and key not in space}
    if not space:
        raise NothingToTune(f"{name} declares no search space and [models.{name}] gives no range: nothing to tune")
    return space, fixed


def suggest(trial: optuna.Trial, key: str, dimension: Dimension) -> Any:
    if isinstance(dimension, FloatRange):
        return trial.suggest_float(key, dimension.low, dimension.high, log=dimension.log)
    if isinstance(dimension, IntRange):
        return trial.suggest_int(key, dimension.low, dimension.high, log=dimension.log)
    choices = list(dimension.values)
    if all(isinstance(c, (int, float, str, bool)) or c is None for c in choices):
        return trial.suggest_categorical(key, choices)
    index = trial.suggest_categorical(key, list(range(len(choices))))  # e.g. tuples: chosen by position
    return choices[index]


class Objective:
    """Validation Recall@k of model `name` for the parameters a trial draws."""

    def __init__(self, name: str, data: EncodedSplit, config: RunConfig) -> None:
        self.name, self.data, self.config = name, data, config
        self.space, self.fixed = space_of(name, config)
        self.key = f"recall@{config.k}"
        create(name, **self.fixed)  # a bad fixed value is one error now, not a failure in every trial

    def default_point(self) -> dict[str, Any]:
        """The model's default values of the searched parameters, as a trial would draw them
        (a choice of tuples by position); a default outside its range is left to the sampler."""
        defaults = {key: parameter.default for key, parameter
                    in inspect.signature(MODELS[self.name].__init__).parameters.items() if key in self.space}
        point = {}
        for key, value in defaults.items():
            dimension = self.space[key]
            if isinstance(dimension, (FloatRange, IntRange)):
                number = not isinstance(value, bool) and isinstance(value, (int, float))
                if number and dimension.low <= value <= dimension.high \
                        and (isinstance(dimension, FloatRange) or float(value).is_integer()):
                    point[key] = value
            elif value in dimension.values:
                simple = all(isinstance(c, (int, float, str, bool)) or c is None for c in dimension.values)
                point[key] = value if simple else list(dimension.values).index(value)
        return point

    def params(self, trial: optuna.Trial) -> dict[str, Any]:
        return self.fixed | {key: suggest(trial, key, dimension) for key, dimension in self.space.items()}

    def __call__(self, trial: optuna.Trial) -> float:
        params = self.params(trial)
        first_fit = {"done": False, "last": 0}

        def report(epoch: int, recall: float) -> None:
            # only the first network's epochs: a later fit starts again at epoch 1
            if first_fit["done"] or epoch <= first_fit["last"]:
                first_fit["done"] = True
                return
            first_fit["last"] = epoch
            trial.report(recall, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"epoch {epoch}: valid {self.key} {recall:.4f}")

        with observe_epochs(report):
            model = fit(create(self.name, **params), self.data, "train")
        result = evaluate(validation_scorer(model), self.data.valid, exclude=self.data.train, k=self.config.k,
                          batch_size=self.config.batch_size, owned=True)
        trial.set_user_attr("params", {key: plain(value) for key, value in model.get_params().items()})
        trial.set_user_attr("valid", result.metrics)
        return result[self.key]


def plain(value: Any) -> Any:
    """A parameter as JSON and TOML hold it: numpy scalars as Python ones, tuples as lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise ConfigError(f"parameter value {value!r} ({type(value).__name__}) cannot be written to a study or a TOML file")
