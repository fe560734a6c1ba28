"""The `movierec` command: a thin typer layer over the library.

Options override values of ``--config FILE.toml``; the library never sees argv. The
commands that read, split, write and export data sets are in :mod:`movierec.cli.data`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from movierec.cli import data as _data  # noqa: F401  (registers the data, split and export commands)
from movierec.cli.batch import recommend_histories, recommend_users
from movierec.cli.common import (
    DataDir,
    MinItemUsers,
    MinRating,
    MinUserItems,
    Quiet,
    Terminated,
    Threads,
    app,
    console,
    err_console,
    fail,
    path_text,
    print_notes,
    print_table,
    set_threads,
    show_progress,
    silent,
    stop_on_terminate,
)
from movierec.exceptions import ConfigError, MovieRecError

__all__ = ["app"]


@app.command()
def run(
    data: str | None = typer.Option(None, "--data", help="Named data set (ml-100k, ml-1m, ...) or a path. "
                                    "Default: ml-100k; with --split-dir, none (no side fields)."),
    data_dir: Path | None = DataDir,
    split_dir: Path | None = typer.Option(None, "--split-dir", help="Pre-split folder: train/valid/test.csv."),
    protocol: str | None = typer.Option(None, "--protocol", help="competition, random or temporal. "
                                        "Default: competition."),
    models: str | None = typer.Option(None, "--models", help="Comma-separated model names. Default: pop,ease."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the split and of every model. Default: 0."),
    k: int | None = typer.Option(None, "--k", help="List length. Default: 10."),
    out: Path | None = typer.Option(None, "--out", help="Run folder to write; an earlier run there is replaced. "
                                    "Default: runs/latest."),
    refit: bool | None = typer.Option(None, "--refit/--no-refit", help="--no-refit: test the train-fitted model "
                                      "(RecBole's setting). Default: the config's, else refit on train+valid."),
    ensemble: bool | None = typer.Option(None, "--ensemble/--no-ensemble", help="Also blend the listed models "
                                         "(weights tuned on valid). Default: the config's, else no."),
    submission: str | None = typer.Option(
        None, "--submission", help="test: lists of the scored test users; all: refit on everything, list every "
        "user. Default: test."
    ),
    min_rating: float | None = MinRating,
    min_user_items: int | None = MinUserItems,
    min_item_users: int | None = MinItemUsers,
    config: Path | None = typer.Option(None, "--config", help="TOML file; options given here override it."),
    threads: int | None = Threads,
    quiet: bool = Quiet,
) -> None:
    """Tune every model on validation, test it, and write a run folder with a submission and report.html."""
    from movierec.analysis.html_report import write_html_report
    from movierec.config import RunConfig, load_config, names_data, with_options
    from movierec.models.torch import distributed
    from movierec.pipeline import run as run_pipeline

    distributed.init_from_environment()  # under torchrun: join the other ranks
    main_rank = distributed.is_main()
    show_progress(quiet or not main_rank)
    used = set_threads(threads, processes=distributed.world_size(), speak=main_rank)
    stop_on_terminate()
    try:
        settings = with_options(
            load_config(config) if config else RunConfig(), from_file=config is not None and names_data(config), data=data,
            data_dir=path_text(data_dir), split_dir=path_text(split_dir), protocol=protocol, models=models, seed=seed, k=k,
            out=path_text(out), refit=refit, ensemble=ensemble, submission=submission, min_rating=min_rating,
            min_user_items=min_user_items, min_item_users=min_item_users)
        log = (lambda message: console.print(message, soft_wrap=True, highlight=False)) if main_rank else silent

        def write_report(folder: Path) -> None:  # into the finished run, before it is published
            try:
                write_html_report([folder], folder / "report.html", seed=settings.seed,
                                  titles=[Path(settings.out).resolve().name])  # the staging folder's is not
            except (MovieRecError, OSError, ValueError) as error:  # the run itself is written: say so, keep it
                err_console.print(f"[bold yellow]warning:[/] report.html not written: {escape(str(error))}",
                                  markup=True, highlight=False)

        result = run_pipeline(settings, log=log, finish=write_report)
    except (MovieRecError, OSError) as error:
        fail(error)
        return
    except KeyboardInterrupt as stop:  # one line, not a traceback: the earlier run stays whole
        err_console.print("interrupted: nothing was published; the run folder holds what it held before",
                          highlight=False)
        raise typer.Exit(code=143 if isinstance(stop, Terminated) else 130) from None
    if not main_rank:
        return
    columns = [f"{name}@{settings.k}" for name in ("recall", "recall_plain", "ndcg", "coverage")]
    print_table(f"test metrics ({'refit' if settings.refit else 'no refit'})", ["model", *columns, "seconds"],
                 [[name + (" *" if name == result.best else ""), *(f"{r.test[c]:.4f}" for c in columns),
                   f"{r.fit_seconds:.1f}"] for name, r in result.results.items()])
    console.print(f"run folder: {result.out}  (submission from *, best on validation; {used} thread"
                  f"{'s' if used > 1 else ''}{'' if threads else ', the cores free at start'})", soft_wrap=True)


@app.command()
def score(
    split_dir: Path = typer.Option(..., "--split-dir", help="Folder with train/valid/test.csv."),
    recs: Path = typer.Option(..., "--recs", help="CSV with user,item[,rank or score] (any library's output)."),
    k: int = typer.Option(10, "--k"),
) -> None:
    """Score a recommendation file against the split's test part, with movierec's evaluator."""
    from movierec.evaluate.score_file import score_file
    from movierec.split import EncodedSplit, read_split

    try:
        data = EncodedSplit(read_split(split_dir))
        evaluation, notes = score_file(recs, data.idmap, data.test, k=k)
    except (MovieRecError, OSError) as error:
        fail(error)
        return
    print_notes(notes)  # on stderr: stdout stays one JSON document for scripts
    console.print_json(json.dumps(evaluation.metrics))


@app.command()
def tune(
    data: str | None = typer.Option(None, "--data", help="Named data set or a path."),
    data_dir: Path | None = DataDir,
    split_dir: Path | None = typer.Option(None, "--split-dir", help="Pre-split folder: train/valid/test.csv."),
    models: str | None = typer.Option(None, "--models", help="Comma-separated models to tune, e.g. fm,ease."),
    trials: int = typer.Option(20, "--trials", help="Trials per model, added to what the study holds."),
    timeout: float | None = typer.Option(None, "--timeout", help="Seconds per worker and model."),
    study: str = typer.Option("movierec", "--study", help="Study name (one study per model: NAME-MODEL)."),
    storage: str | None = typer.Option(None, "--storage", help="Optuna storage URL (e.g. postgresql+psycopg2://"
                                       "user@host/db), a journal file, or memory (one process, not kept); "
                                       "default: a journal in the study folder."),
    jobs: int = typer.Option(1, "--jobs", help="Worker processes sharing the study."),
    worker: int = typer.Option(0, "--worker", help="This machine's number among those sharing a --storage "
                               "study (seeds its sampler apart from theirs)."),
    pruner: str = typer.Option("median", "--pruner", help="median, hyperband or none (epoch-trained models)."),
    defaults_first: bool = typer.Option(False, "--defaults-first", help="A new study's first trial is the model's "
                                        "defaults (those inside the space), so a search starts from them."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the split, the models and the sampler."),
    k: int | None = typer.Option(None, "--k", help="List length; the objective is validation Recall@k."),
    out: Path = typer.Option(Path("runs/tune"), "--out", help="Study folder: best.toml, trials.csv, plots."),
    config: Path | None = typer.Option(None, "--config", help="TOML file: data, split, fixed parameters, ranges."),
    min_rating: float | None = MinRating,
    min_user_items: int | None = MinUserItems,
    min_item_users: int | None = MinItemUsers,
    threads: int | None = Threads,
    quiet: bool = Quiet,
) -> None:
    """Search each model's hyper-parameters on validation with Optuna; write a config that repeats the best."""
    import optuna

    from movierec.config import RunConfig, load_config, names_data, with_options
    from movierec.tuning import TuneSettings
    from movierec.tuning import tune as run_tuning

    show_progress(quiet)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the table below says what a trial log would
    per_worker = set_threads(threads, processes=max(jobs, 1))
    try:
        settings = with_options(load_config(config) if config else RunConfig(),
                                from_file=config is not None and names_data(config),
                                data=data, data_dir=path_text(data_dir), split_dir=path_text(split_dir), models=models,
                                seed=seed, k=k, min_rating=min_rating, min_user_items=min_user_items,
                                min_item_users=min_item_users)
        tuning = TuneSettings(trials=trials, timeout=timeout, study=study, storage=storage, jobs=jobs,
                              pruner=pruner, out=str(out), worker=worker, threads=per_worker,
                              defaults_first=defaults_first)
        results = run_tuning(settings, tuning, log=lambda message: console.print(message, highlight=False))
    except (MovieRecError, OSError) as error:
        fail(error)
        return
    print_table(f"best on validation recall@{settings.k}", ["model", "valid", "complete", "pruned", "best parameters"],
                 [[r.name, f"{r.best_value:.4f}", str(r.complete), str(r.pruned),
                   ", ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                             for key, value in r.searched.items())] for r in results])
    console.print(f"study folder: {out}; repeat the best with: movierec run --config {out / 'best.toml'}")


@app.command()
def report(
    runs: list[Path] = typer.Argument(..., metavar="RUN_FOLDER", help="Run folders written by `movierec run`."),
    lists: list[str] = typer.Option([], "--lists", help="NAME=FILE: a list file (user,item[,rank or score]) scored "
                                    "against the first run's test items, as one more column. Repeatable."),
    out: Path | None = typer.Option(None, "--out", help="The page, NAME.html (default: report.html in the run "
                                    "folder for one run, in the current folder for several)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and the public/private halvings."),
) -> None:
    """An HTML page comparing the runs' lists: intervals, paired tests, leaderboard risk, plots."""
    from movierec.analysis.html_report import parse_lists, write_html_report

    try:
        extra = parse_lists(lists)
        if seed < 0:
            raise ConfigError(f"--seed must be a whole number >= 0, got {seed}")
        target = out or (runs[0] / "report.html" if len(runs) == 1 else Path("report.html"))
        if target.is_dir() or target.suffix.lower() not in (".html", ".htm"):
            raise ConfigError(f"--out {target}: the report is one HTML page; give a file path ending in .html")
        written = write_html_report(runs, target, lists=extra, seed=seed,
                                    log=lambda line: err_console.print(line, highlight=False))
    except (MovieRecError, OSError) as error:
        fail(error)
        return
    console.print(f"report: {written}")


@app.command()
def diagnose(
    split_dir: Path = typer.Option(..., "--split-dir", help="Folder with train/valid/test.csv."),
    data: str | None = typer.Option("ml-100k", "--data", help="Data set whose side fields to use (\"\" for none)."),
    data_dir: Path | None = DataDir,
    depth: int = typer.Option(6, "--depth", help="Convolution layers of deep CFM."),
    epochs: int = typer.Option(2, "--epochs"),
    seed: int = typer.Option(0, "--seed"),
    out: Path | None = typer.Option(None, "--out", help="Write the rows as JSON here."),
    threads: int | None = Threads,
    quiet: bool = Quiet,
) -> None:
    """Deep CFM with and without batch norm: score spread, gradient norms, dead units per config."""
    show_progress(quiet)
    set_threads(threads)
    from movierec.analysis.diagnostics import collapse_experiment, collapse_table
    from movierec.atomic import atomic_write_bytes
    from movierec.split import SplitSpec, load_encoded

    try:
        if out is not None and out.is_dir():  # known before minutes of training, not after
            raise ConfigError(f"--out {out} is a folder; give the JSON file's path")
        encoded = load_encoded(data=data or None, data_dir=data_dir, split_dir=split_dir, spec=SplitSpec())
        rows = collapse_experiment(encoded.train, encoded.valid, encoded.features("train"), depth=depth,
                                   epochs=epochs, seed=seed)
        console.print(collapse_table(rows))
        if out is not None:
            atomic_write_bytes(out, json.dumps(rows, indent=1).encode())
    except (MovieRecError, OSError) as error:
        fail(error)


@app.command()
def recommend(
    run_dir: Path = typer.Option(..., "--run", help="A run folder written by `movierec run` (models saved)."),
    user: str | None = typer.Option(None, "--user", help="A known user's id."),
    history: str | None = typer.Option(None, "--history", help="Item ids watched, oldest first: ID,ID,..."),
    similar_to: str | None = typer.Option(None, "--similar-to",
                                          help="An item's id: what to show someone who watched it alone."),
    k: int = typer.Option(10, "--k", help="List length."),
    model: str | None = typer.Option(None, "--model", help="A model of the run (default: best on validation)."),
    because: int = typer.Option(0, "--because", min=0,
                                help="Per item, up to this many watched items adding most to its score (EASE, DLAE, iALS)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts instead of a table."),
    histories: Path | None = typer.Option(None, "--histories", help="Many new users at once: a file of user,item"
                                          "[,timestamp] rows (any layout `run` reads), each user's rows a history."),
    users: str | None = typer.Option(None, "--users", help="Many known users at once: all, or a CSV with a user "
                                     "column."),
    out: Path | None = typer.Option(None, "--out", help="With --histories or --users: the CSV to write "
                                    "(user,rank,item,score)."),
    min_rating: float | None = typer.Option(None, "--min-rating", help="With --histories: only the file's ratings "
                                            "at or above this are history (as the run's own --min-rating)."),
) -> None:
    """Recommend for a known user of a run, for a new one from a history, or beside one item (fold-in);
    with --users or --histories, for many known or new users at once, into a CSV."""
    from movierec.serving import load_run
    from movierec.serving.histories import id_like

    try:
        if sum(given is not None for given in (user, history, similar_to, histories, users)) != 1:
            raise ConfigError("give one of --user ID, --history ID,ID,..., --similar-to ID, --users all|FILE or "
                              "--histories FILE")
        many = histories is not None or users is not None
        if many != (out is not None) or (min_rating is not None and histories is None):
            raise ConfigError("--users or --histories go with --out FILE, the CSV of every user's list (--min-rating "
                              "with --histories)")
        if many:
            if because or as_json:
                raise ConfigError("--because and --json show one list; --users and --histories write every user's "
                                  "to --out")
            if users is not None:
                return recommend_users(load_run(run_dir), users, out, k, model)
            return recommend_histories(load_run(run_dir), histories, out, k, model, min_rating)
        if because and similar_to is not None:
            raise ConfigError("--because explains the lists of --user and --history; a list --similar-to an item "
                              "follows from that item alone")
        run = load_run(run_dir)
        name = model or (run.default_model() if user is not None else run.history_model())
        unknown = item = None
        if user is not None:
            user = run.users[run.user_index(user.strip())]  # the id as the run holds it (42, not "42")
            frame = run.recommend([user], k, name, because=because).drop(columns="user")
        elif similar_to is not None:
            item = run.items[run.item_index(similar_to.strip())]  # the id as the run holds it, as HTTP answers
            frame = run.similar_items(item, k, name)
        else:
            # each id as the run holds it (50, not "50"; an unknown one too), as HTTP reports it
            ids = [id_like(item.strip(), run.items) for item in history.split(",") if item.strip()]
            result = run.recommend_history(ids, k, name, because=because)
            frame, unknown = result.items, result.unknown_items
    except (MovieRecError, OSError) as error:
        fail(error)
        return
    if as_json:
        subject = {"item": item} if item is not None else {"user": user}
        payload = {key: value.item() if hasattr(value, "item") else value for key, value in subject.items()}
        payload |= {"model": name, "items": json.loads(frame.to_json(orient="records"))}
        if unknown is not None:
            payload["unknown_items"] = unknown
        console.print_json(json.dumps(payload, default=str))
        return
    subject = f"user {user}" if user is not None else (f"someone who watched item {item}" if item is not None
                                                       else "the history")
    if because:  # titles read better than ids in a table
        titles = run.catalogue["title"] if "title" in run.catalogue else [None] * run.n_items
        title_of = {item: title for item, title in zip(run.items, titles) if isinstance(title, str) and title.strip()}
        frame["because"] = ["; ".join(str(title_of.get(item, item)) for item in items) for items in frame["because"]]
    table = Table(title=f"{name}: top {k} for {subject}")
    for column in frame.columns:
        table.add_column(column)
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{value:.4f}" if isinstance(value, float) else ("" if value is None else str(value))
                        for value in row))
    console.print(table)
    if unknown:
        console.print(f"not in the run's catalogue (ignored): {', '.join(map(str, unknown))}")


@app.command()
def serve(
    run_dir: Path = typer.Option(..., "--run", help="A run folder written by `movierec run` (models saved)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback unless told otherwise)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port to listen on (0: a free one, printed)."),
    model: str | None = typer.Option(None, "--model", help="Default model (default: best on validation)."),
    token: str | None = typer.Option(None, "--token", envvar="MOVIEREC_SERVE_TOKEN",
                                      help="Require `Authorization: Bearer TOKEN` (also $MOVIEREC_SERVE_TOKEN)."),
    threads: int | None = Threads,
) -> None:
    """Serve a run's models over HTTP (FastAPI; OpenAPI docs at /docs). Loads the run's pickles: serve only
    run folders you trust."""
    import socket

    import uvicorn

    from movierec.serving import load_run
    from movierec.serving.app import address_url, create_app, listening_socket

    set_threads(threads)
    if token is None and os.environ.get("MOVIEREC_SERVE_TOKEN") == "":  # click reads a set, empty variable as unset
        token = ""  # refused below: an operator who set the variable meant a token
    try:
        run = load_run(run_dir)
        service = create_app(run, default_model=model, token=token)
        if model is not None and not run.can_fold_in(model):
            err_console.print(f"note: --model {model} cannot fold in a new user: a POST /recommendations naming no "
                              f"model answers 422 (models that can: {', '.join(run.fold_in_models) or 'none'})",
                              highlight=False)
    except (MovieRecError, OSError) as error:
        fail(error)
        return
    try:  # bound here, so a busy port is one line, not a served address then uvicorn's exit
        listener = listening_socket(host, port)
    except socket.gaierror as error:
        fail(ConfigError(f"cannot listen on --host {host!r}: {error.strerror or error}"))
        return
    except OSError as error:
        fail(ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}; choose another --port "
                         "(--port 0 takes a free one) or --host"))
        return
    console.print(f"serving {run_dir} on {address_url(host, listener.getsockname()[1])} (docs: /docs)",
                  soft_wrap=True)
    console.file.flush()  # the address reaches a pipe (a supervisor, a test) before the server runs
    server = uvicorn.Server(uvicorn.Config(service, log_level="warning"))
    server.run(sockets=[listener])
    if not server.started:  # uvicorn logged why; exit non-zero as `uvicorn.run` does
        raise typer.Exit(code=3)
