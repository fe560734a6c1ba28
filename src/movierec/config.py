"""Run configuration: frozen dataclasses read from and written to TOML.

Only the CLI reads configuration; the library receives plain values. A run's
``config.toml`` holds everything needed to repeat it::

    [run]
    data = "ml-100k"
    models = ["pop", "ease"]
    seed = 0
    k = 10
    refit = true

    [split]
    protocol = "competition"
    tail = 2
    fraction = 0.1
    seed = 0                     # without it, [run] seed seeds the split too (as --seed does)

    [filter]                     # before the split: which ratings are positives, the k-core
    min_rating = 4.0
    min_user_items = 5

    [models.ease]
    l2 = [100.0, 300.0, 500.0]   # a list is a grid tried on validation
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from movierec.checks import is_whole_number
from movierec.data.filters import DataFilter
from movierec.exceptions import ConfigError, MovieRecError
from movierec.split.splitters import PROTOCOL_READS, SplitSpec, unread

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


SUBMISSIONS = ("test", "all")


@dataclass(frozen=True)
class RunConfig:
    """Everything `movierec run` needs. Paths are strings so the config round-trips as TOML.

    params : per model name, hyper-parameters; a list value is a grid searched on
        validation, a scalar is fixed. Unlisted parameters use the model's `param_grid`
        (if any) or its default.
    """

    data: str | None = "ml-100k"
    data_dir: str | None = None
    split_dir: str | None = None
    split: SplitSpec = field(default_factory=SplitSpec)
    data_filter: DataFilter = field(default_factory=DataFilter)  # [filter]
    models: tuple[str, ...] = ("pop", "ease")
    seed: int = 0
    k: int = 10
    out: str = "runs/latest"
    refit: bool = True
    # also blend the listed models into a registered "ensemble" (weights tuned on valid)
    ensemble: bool = False
    batch_size: int = 1024
    # each candidate's validation Recall@k is measured on at most this many users, a sample
    # seeded by `seed` (the same for every candidate and model); 0: every validation user
    valid_users: int = 10_000
    save_models: bool = True
    # "test": submission = the best model's lists for the test users (what was scored);
    # "all": refit the best model on every interaction and list for every user (the
    # competition's final submission, where the hidden items are not in the data).
    submission: str = "test"
    params: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, where, value, low in (("k", "--k", self.k, 1), ("seed", "--seed", self.seed, 0),
                                        ("batch_size", "[run] in the config", self.batch_size, 1),
                                        ("valid_users", "[run] in the config", self.valid_users, 0)):
            if not is_whole_number(value, low):
                raise ConfigError(f"{name} ({where}) must be a whole number >= {low}, got {value!r}")
        if not self.models:
            raise ConfigError("no models given (--models); e.g. --models pop,ease")
        if self.submission not in SUBMISSIONS:
            raise ConfigError(f"submission (--submission) must be one of {', '.join(SUBMISSIONS)}, "
                              f"got {self.submission!r}")
        if self.data is None and self.split_dir is None:
            raise ConfigError("give a data set (--data) or a pre-split folder (--split-dir)")

    def unused_tables(self) -> list[str]:
        """Names of the [models.NAME] tables for models this run does not train (a config
        reused with a shorter --models): their settings are not used."""
        used = set(self.models) | ({"ensemble"} if self.ensemble else set())
        return [name for name in self.params if name not in used]

    def with_absolute_paths(self) -> RunConfig:
        """This config with its paths (a data set given as a path, the data and split
        folders, the output) made absolute, so that the copy a run folder keeps reruns
        from any working directory. A data set name such as "ml-100k" stays a name."""
        def absolute(value: str | None) -> str | None:
            return None if value is None else str(Path(value).expanduser().absolute())  # links kept as links

        data = absolute(self.data) if self.data is not None and Path(self.data).expanduser().exists() else self.data
        return dataclasses.replace(self, data=data, data_dir=absolute(self.data_dir),
                                   split_dir=absolute(self.split_dir), out=absolute(self.out))

    def to_toml(self) -> str:
        run = {
            key: value
            for key, value in dataclasses.asdict(self).items()
            if key not in {"split", "data_filter", "params"} and value is not None
        }
        run["models"] = list(self.models)
        document = {"run": run, "models": self.params}
        if self.split_dir is None:  # a split folder holds its own split: no protocol of this config made it
            reads = PROTOCOL_READS[self.split.protocol]  # what the protocol ignores is left out: reading it is an error
            document["split"] = {key: value for key, value in dataclasses.asdict(self.split).items()
                                 if key in ("protocol", "seed") or key in reads}
            if self.data_filter.active:
                document["filter"] = {key: value for key, value in dataclasses.asdict(self.data_filter).items()
                                      if value is not None}
        return tomli_w.dumps(document)


def with_options(
    base: RunConfig,
    *,
    from_file: bool = False,
    data: str | None = None,
    data_dir: str | None = None,
    split_dir: str | None = None,
    protocol: str | None = None,
    models: str | None = None,
    seed: int | None = None,
    k: int | None = None,
    out: str | None = None,
    refit: bool | None = None,
    ensemble: bool | None = None,
    submission: str | None = None,
    min_rating: float | None = None,
    min_user_items: int | None = None,
    min_item_users: int | None = None,
) -> RunConfig:
    """`base` (a config file's, or the defaults) with the command line's options on top.

    Options left as None keep `base`'s value, with one exception: `--split-dir` reads no
    data set for side fields unless `--data` or the config file names one (`from_file`:
    the file's [run] data; the default data set would be the wrong one for a foreign
    split, see :func:`names_data`). `--seed` seeds
    both the split and the models. Every value is checked here (RunConfig, SplitSpec),
    so a bad option is one error naming it, before any data is read.
    """
    names = None
    if models is not None:
        names = tuple(name.strip() for name in models.split(",") if name.strip())
        if not names:
            raise ConfigError(f"--models got {models!r}; give comma-separated model names, e.g. pop,ease")
    split = base.split
    if protocol is not None:
        if split_dir is not None or base.split_dir is not None:
            raise ConfigError("--protocol has no effect with a split folder (--split-dir, or split_dir in the "
                              "config), which holds its split already; give one or the other")
        for key in unread(protocol, {key: getattr(split, key) for key in ("tail", "fraction")
                                     if getattr(split, key) != getattr(SplitSpec, key)}):
            raise ConfigError(f"--protocol {protocol} holds out by {' and '.join(PROTOCOL_READS[protocol])} only: the "
                              f"config's [split] {key} = {getattr(split, key)!r} would be ignored; leave it out")
        split = dataclasses.replace(split, protocol=protocol)
    if seed is not None:
        split = dataclasses.replace(split, seed=seed)
    given = {key: value for key, value in (("min_rating", min_rating), ("min_user_items", min_user_items),
                                           ("min_item_users", min_item_users)) if value is not None}
    data_filter = dataclasses.replace(base.data_filter, **given)
    chosen_data = data if data is not None else (None if split_dir is not None and not from_file else base.data)
    return dataclasses.replace(
        base,
        data=chosen_data,
        data_dir=data_dir if data_dir is not None else base.data_dir,
        split_dir=split_dir if split_dir is not None else base.split_dir,
        models=names or base.models,
        seed=seed if seed is not None else base.seed,
        k=k if k is not None else base.k,
        out=out if out is not None else base.out,
        refit=refit if refit is not None else base.refit,
        ensemble=ensemble if ensemble is not None else base.ensemble,
        split=split,
        data_filter=data_filter,
        submission=submission if submission is not None else base.submission,
    )


SEQUENCE_PARAMS = frozenset({"members"})  # parameters whose one value is a list of names


def one_sequence_value(key: str, value: Any) -> bool:
    """Whether a [models.NAME] list is one value of a sequence-valued parameter, not a grid:
    ``members = ["ease", "fm"]`` names two members; ``["ease,fm", "ease"]`` (comma
    strings) and ``[["ease", "fm"], ["ease"]]`` are grids over member sets."""
    return (key in SEQUENCE_PARAMS and isinstance(value, list) and bool(value)
            and all(isinstance(v, str) and "," not in v for v in value))


def fixed_params(params: dict[str, Any]) -> dict[str, Any]:
    """One point of hyper-parameters as a [models.NAME] table read back as exactly that point.

    In a table a list is a grid, so a sequence-valued parameter (a reranker's
    ``members``) is written as a grid of one point holding it; None is left out
    (TOML has no null), which is right where None is the default.
    """
    return {key: [list(value)] if isinstance(value, (list, tuple)) else value
            for key, value in params.items() if value is not None}


def names_data(path: Path | str) -> bool:
    """Whether a config file names its data set ([run] data), which `--split-dir` then
    reads side fields from; a file that does not leaves the default data set unread."""
    try:
        return "data" in tomllib.loads(Path(path).read_text()).get("run", {})
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        return False  # load_config names the problem


def load_config(path: Path | str) -> RunConfig:
    """Read a TOML file into a RunConfig; unknown keys are errors, not silently ignored."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from None
    return config_from_dict(document, source=str(path))


def config_from_dict(document: dict[str, Any], *, source: str = "config") -> RunConfig:
    unknown = set(document) - {"run", "split", "filter", "models"}
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {sorted(unknown)}; expected run, split, filter, models")
    for section in ("run", "split", "filter", "models"):
        if not isinstance(document.get(section, {}), dict):
            raise ConfigError(f"{source}: {section} must be a table ([{section}]), got {document[section]!r}")
    run = dict(document.get("run", {}))
    _check_keys(run, {f.name for f in dataclasses.fields(RunConfig)} - {"split", "data_filter", "params"},
                f"{source} [run]")
    _check_types(run, RunConfig, f"{source} [run]", own={"k", "seed", "batch_size", "valid_users"})
    split = dict(document.get("split", {}))
    _check_keys(split, {f.name for f in dataclasses.fields(SplitSpec)}, f"{source} [split]")
    _check_types(split, SplitSpec, f"{source} [split]")
    _check_split_reads(split, f"{source} [split]")
    if "models" in run:
        if not isinstance(run["models"], list) or not all(isinstance(name, str) for name in run["models"]):
            raise ConfigError(f"{source} [run]: models must be a list of model names, e.g. models = [\"pop\", "
                              f"\"ease\"]; got {run['models']!r}")
        run["models"] = tuple(run["models"])
    if "split_dir" in run and "data" not in run:
        run["data"] = None  # as on the command line: a split folder alone reads no data set (TOML has no null)
    if "seed" in run and "seed" not in split:
        split["seed"] = run["seed"]  # as --seed: one seed for the split and the models, unless [split] names its own
    params = document.get("models", {})
    if not all(isinstance(v, dict) for v in params.values()):
        raise ConfigError(f"{source} [models]: each entry must be a table, e.g. [models.ease]")
    for name, table in params.items():
        _check_model_params(name, table, f"{source} [models.{name}]")
    try:
        spec = SplitSpec(**split)
    except MovieRecError as error:
        raise ConfigError(f"{source} [split]: {error}") from None
    kept = dict(document.get("filter", {}))
    _check_keys(kept, {f.name for f in dataclasses.fields(DataFilter)}, f"{source} [filter]")
    try:
        data_filter = DataFilter(**kept)
    except MovieRecError as error:
        raise ConfigError(f"{source} [filter]: {error}") from None
    try:
        return RunConfig(**run, split=spec, data_filter=data_filter, params=params)
    except ConfigError as error:
        raise ConfigError(f"{source} [run]: {error}") from None


def table_grid(table: dict[str, Any]) -> dict[str, list[Any]]:
    """A [models.NAME] table as parameter -> the values to try: a list is a grid (a list
    inside it, one sequence-valued point, kept as a tuple), except a list of names for
    `members` (:func:`one_sequence_value`); a scalar or a table is one value."""
    grid = {}
    for key, value in table.items():
        if one_sequence_value(key, value):
            grid[key] = [tuple(value)]
        elif isinstance(value, list):
            grid[key] = [tuple(v) if isinstance(v, list) else v for v in value]
        else:
            grid[key] = [value]
    return grid


def _check_model_params(name: str, table: dict[str, Any], where: str) -> None:
    """A [models.NAME] table's keys that NAME's constructor does not take, and values it
    cannot train with, are errors naming the file and the table, before any data loads:
    each grid point, and each end (or choice) of a search range `movierec tune` reads."""
    import inspect
    import itertools

    from movierec.models.registry import MODELS, create
    from movierec.models.space import Choice, dimension_from_toml

    if name not in MODELS:  # a section for no registered model is reported where the model is asked for
        return
    accepted = {parameter for parameter in inspect.signature(MODELS[name].__init__).parameters if parameter != "self"}
    _check_keys(table, accepted, where)
    grid = table_grid(table)
    empty = [key for key, values in grid.items() if not values]
    if empty:
        raise ConfigError(f"{where}: empty grid for {empty}; give at least one value")
    for key, value in table.items():  # a range or choice of `movierec tune`: its ends, or its choices
        if isinstance(value, dict) and set(value) & {"low", "high", "log", "choices"}:  # misspelt: its shape named
            try:
                dimension = dimension_from_toml(key, value)
            except ConfigError as error:
                raise ConfigError(f"{where}: {error}") from None
            grid[key] = list(dimension.values) if isinstance(dimension, Choice) else [dimension.low, dimension.high]
    try:
        for values in itertools.product(*grid.values()):  # each point as the run will try it
            create(name, **dict(zip(grid, values))).check_params()
    except MovieRecError as error:
        raise ConfigError(f"{where}: {error}") from None


def _check_split_reads(split: dict[str, Any], where: str) -> None:
    """A [split] value its protocol does not hold out by is an error, not ignored (``tail``
    under the random protocol). Such a key at its default passes: earlier versions wrote
    every field into a run's config.toml."""
    protocol = split.get("protocol", SplitSpec.protocol)
    for key in unread(protocol, {key: value for key, value in split.items() if value != getattr(SplitSpec, key, None)}):
        raise ConfigError(f"{where}: {key} = {split[key]!r} has no effect under the {protocol} protocol, which "
                          f"holds out by {' and '.join(PROTOCOL_READS[protocol])} only; leave {key} out")


# what a TOML value of each scalar field must be (TOML tells integers, floats and booleans apart)
_KINDS = {"str": (str,), "str | None": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}


def _check_types(table: dict[str, Any], cls: type, where: str, own: set[str] = frozenset()) -> None:
    """Scalar values of `table` (a [run] or [split] section) of the kind `cls`'s field takes:
    ``refit = "no"`` or ``tail = 2.5`` is an error, not a truthy string or a truncation.
    Fields in `own` are left to `cls`'s own check (which names their command-line option)."""
    fields = {f.name: str(f.type) for f in dataclasses.fields(cls) if f.name not in own}
    for key, value in table.items():
        kinds = _KINDS.get(fields.get(key, ""))
        if kinds is None:
            continue
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            expected = {"str": "a string", "str | None": "a string", "int": "a whole number", "float": "a number",
                        "bool": "true or false"}[fields[key]]
            raise ConfigError(f"{where}: {key} must be {expected}, got {value!r}")


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
