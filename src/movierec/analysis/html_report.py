"""`report.html`: one self-contained page comparing the lists of one or more runs.

Everything is recomputed from the run folders (:mod:`movierec.analysis.run_lists`):
accuracy with bootstrap intervals over test users, beyond-accuracy figures, paired
comparisons of the best model with each other one, the leaderboard risk of choosing
on half the users, and the plots. Images are inline PNGs (data: URIs), so the page
needs no network and prints as it shows. Lists are compared only with lists of the
same split (same checksum): runs of different splits get a section each.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from movierec.analysis import report_plots as plots
from movierec.analysis.run_lists import RunFolder, ScoredLists
from movierec.atomic import atomic_write_bytes
from movierec.evaluate.confidence import bootstrap_intervals, compare_paired
from movierec.evaluate.leaderboard import leaderboard_risk
from movierec.exceptions import ConfigError, DataError


class Markup(str):
    """Text that is already HTML (the report's own markup); every other cell is escaped."""


ACCURACY = ("recall@{k}", "recall_plain@{k}", "ndcg@{k}", "precision@{k}", "hit_rate@{k}")
BEYOND = ("novelty", "popularity", "popularity_lift", "genre_diversity")
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; padding: 0 1rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.better { color: #17692a; } td.worse { color: #a4161a; }
img { max-width: 100%; height: auto; display: block; margin: 0.5rem 0 1.5rem; }
.note { color: #555; font-size: 0.9rem; max-width: 60rem; }
@media print { body { margin: 0; max-width: none; } h2 { break-before: page; } img { break-inside: avoid; } }
"""


def write_html_report(folders: Sequence[Path | str], out: Path | str, *, lists: dict[str, Path] | None = None,
                      level: float = 0.95, resamples: int = 1000, repeats: int = 1000, seed: int = 0,
                      log: Callable[[str], None] = lambda line: None,
                      titles: Sequence[str | None] | None = None) -> Path:
    """Write the report of the run `folders` (and extra list files, label -> path, scored
    against the first run's test items) to `out`; returns `out`. What reading a list
    file left out (unknown users, unknown items counted as misses, test users without a
    list) goes to `log` and onto the page. `titles` name the runs (default: each folder's
    name)."""
    if not folders:
        raise ConfigError("the report needs at least one run folder")
    titles = titles or [None] * len(folders)
    runs = [RunFolder.read(folder, title) for folder, title in zip(folders, titles, strict=True)]
    several = len(runs) > 1
    groups: dict[tuple[str, int], tuple[RunFolder, list[ScoredLists]]] = {}
    for run in runs:
        if not run.models:
            raise DataError(f"{run.folder}: no lists in recommendations/ to report on")
        unlisted = [name for name in run.metrics["models"] if name not in run.models]
        if unlisted:  # metrics.json names them: their lists were removed since
            log(f"{run.folder}: left out {', '.join(unlisted)}, whose lists are not in recommendations/")
        scored = [run.scored(model, f"{run.name}/{model}" if several else model) for model in run.models]
        groups.setdefault(_group(run), (run, []))[1].extend(scored)
    first = runs[0]
    for label, path in (lists or {}).items():
        scored = first.score_lists(path, label)
        groups[_group(first)][1].append(scored)
        for note in scored.notes:
            log(f"note: {label} ({path}): {note}")
    for _, scored in groups.values():
        labels = [lists.label for lists in scored]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ConfigError(f"two list sets are both called {repeated[0]!r}; give --lists another name "
                              "or run folders with different names")
    body = [f"<h1>movierec report</h1>{_runs_table(runs)}"]
    for run, scored in groups.values():
        body.append(_split_section(run, scored, several or len(groups) > 1, level=level, resamples=resamples,
                                   repeats=repeats, seed=seed))
    for run in runs:
        body.append(_tuning_section(run))
    page = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>movierec report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")
    out = Path(out)
    atomic_write_bytes(out, page.encode())
    return out


def _average(values: np.ndarray, *, median: bool) -> str:
    """The users' mean (or median) of a beyond-accuracy metric; n/a where no user has a list."""
    values = values[~np.isnan(values)]
    if not len(values):
        return "n/a"
    return f"{np.median(values) if median else np.mean(values):.3f}"


def parse_lists(entries: Sequence[str]) -> dict[str, Path]:
    """``NAME=FILE`` entries (the CLI's --lists) as label -> path."""
    out = {}
    for entry in entries:
        name, sep, path = entry.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--lists takes NAME=FILE, got {entry!r}")
        if name in out:  # the later one would silently replace the first
            raise ConfigError(f"--lists names {name!r} twice; give each list file its own name")
        if Path(path).is_dir():
            raise ConfigError(f"--lists {name}={path}: a folder; give one list file (user,item[,rank or score]), e.g. "
                              f"{Path(path) / 'ease.csv'}")
        out[name] = Path(path)
    return out


def _group(run: RunFolder) -> tuple[str, int]:
    """Lists are compared only on the same split (its checksum) and the same k."""
    return str(run.metrics.get("split_checksum", run.folder)), run.k


def _split_section(run: RunFolder, scored: list[ScoredLists], titled: bool, *, level: float, resamples: int,
                   repeats: int, seed: int) -> str:
    k = run.k
    accuracy = [name.format(k=k) for name in ACCURACY]
    key = accuracy[0]
    parts = [f"<h2>Test users of {html.escape(run.name)}</h2>" if titled else "<h2>Accuracy</h2>",
             f"<p class='note'>{len(scored[0].users)} test users; means with {level:.0%} bootstrap intervals "
             f"({resamples} resamples of the users, seed {seed}). Recall@{k} is hits / min({k}, hidden items).</p>"]
    rows = []
    for lists in scored:
        intervals = bootstrap_intervals({m: lists.per_user[m] for m in accuracy}, level=level, resamples=resamples,
                                        seed=seed)
        rows.append([lists.label] + [Markup(f"{iv.mean:.4f} <small>[{iv.low:.4f}, {iv.high:.4f}]</small>")
                                     for iv in intervals.values()])
    parts.append(_table(["lists", *accuracy], rows))
    notes = [f"{lists.label}: {note}" for lists in scored for note in lists.notes]
    if notes:
        parts.append("<ul class='note'>" + "".join(f"<li>{html.escape(note)}</li>" for note in notes) + "</ul>")
    beyond_names = [m for m in BEYOND if m in scored[0].per_user]
    rows = [[lists.label, *(_average(lists.per_user[m], median=m == "popularity_lift") for m in beyond_names),
             *(f"{value:.3f}" for value in lists.catalogue_level.values())] for lists in scored]
    parts += ["<h3>Beyond accuracy</h3>",
              "<p class='note'>novelty: mean -log2(share of users who have the item); popularity: mean users per "
              "listed item, and (median over users) its ratio to the user's own history's (lift); genre diversity: mean pairwise "
              "cosine distance of the listed items' genres; coverage: share of the catalogue listed to anyone; "
              "exposure Gini: 0 when every item is listed equally often.</p>",
              _table(["lists", *beyond_names, *scored[0].catalogue_level], rows)]
    if len(scored) > 1:
        parts.append(_comparisons(scored, key, level=level, resamples=resamples, seed=seed))
        parts.append(_leaderboard(scored, key, repeats=repeats, seed=seed))
    popularity = run.popularity
    history = run.history_lengths(scored[0].users)
    parts += ["<h3>Plots</h3>",
              _image(plots.by_user_activity(scored, history, key), f"{key} by user activity"),
              _image(plots.by_item_popularity(scored, run.test, popularity), "hidden items found by item popularity"),
              _image(plots.popularity_distribution(scored, popularity[run.known.indices], popularity),
                     "recommended popularity against the histories'")]
    return "".join(parts)


def _comparisons(scored: list[ScoredLists], key: str, *, level: float, resamples: int, seed: int) -> str:
    """Each list set against the one best on validation, over every run's models (so the
    reference is not picked on the very test users it is compared on); where no list
    has a validation figure, against the best on test."""
    labels = {lists.label: lists for lists in scored}
    chosen = _validation_choice(scored)
    best = labels[chosen] if chosen else max(scored, key=lambda lists: float(np.mean(lists.per_user[key])))
    how = "chosen on validation" if chosen else f"best {key} on test"
    results = compare_paired({lists.label: lists.per_user[key] for lists in scored}, best.label, level=level,
                             resamples=resamples, seed=seed)
    rows = [[c.model, Markup(f"{c.difference.mean:+.4f} <small>[{c.difference.low:+.4f}, "
                             f"{c.difference.high:+.4f}]</small>"),
             f"{c.p_value:.3g}", f"{c.p_adjusted:.3g}", (c.verdict, c.verdict.split()[0])] for c in results]
    return (f"<h3>Paired against {html.escape(best.label)} ({how})</h3>"
            f"<p class='note'>Per-user difference (model - {html.escape(best.label)}) with its paired bootstrap "
            f"interval; p-value of a sign-flip permutation test of the mean difference, Holm-corrected over "
            f"the {len(results)} comparisons; a verdict needs the corrected p below {1 - level:.2f}.</p>"
            + _table(["lists", f"difference in {key}", "p", "p (Holm)", "verdict"], rows))


def _leaderboard(scored: list[ScoredLists], key: str, *, repeats: int, seed: int) -> str:
    fixed = _validation_choice(scored)
    risk = leaderboard_risk({lists.label: lists.per_user[key] for lists in scored}, repeats=repeats, seed=seed,
                            fixed_choice=fixed)
    lines = [f"In {risk.repeats} random 50:50 splits of the test users into a public and a private half, the "
             f"model leading the public half led the private half too in <b>{risk.same_leader:.0%}</b> of them; "
             f"its {key} changed by {risk.public_to_private:+.4f} on average from public to private "
             f"(5th percentile {risk.public_to_private_low:+.4f})."]
    if fixed is not None:
        lines.append(f" The model chosen on validation, {html.escape(fixed)}, led the private half in "
                     f"<b>{risk.fixed_choice_best_private:.0%}</b> of them.")
    rows = [[name, f"{share:.1%}"] for name, share in risk.chosen_share.items()]
    return ("<h3>Leaderboard risk</h3><p class='note'>" + "".join(lines) + "</p>"
            + _table(["lists", "leads the public half"], rows))


def _validation_choice(scored: list[ScoredLists]) -> str | None:
    """The label of the lists whose model is best on validation (runs on one split share
    its validation part), None where no list has a validation figure (list files only)."""
    rated = [lists for lists in scored if lists.valid is not None]
    return max(rated, key=lambda lists: lists.valid).label if rated else None


def _tuning_section(run: RunFolder) -> str:
    k = run.k
    parts = [f"<h2>Tuning: {html.escape(run.name)}</h2>"]
    for name, model in run.metrics["models"].items():
        image = plots.validation_curve(name, model.get("trials", []), model.get("curve", []), f"recall@{k}")
        if image is not None:
            parts.append(_image(image, f"{name}: validation curve"))
        weights = (model.get("refit_params") or {}).get("weights")
        if name == "ensemble" and isinstance(weights, dict) and weights:
            parts.append(_image(plots.ensemble_weights(weights), "ensemble weights"))
    if len(parts) == 1:
        parts.append("<p class='note'>No model of this run was tuned over more than one point.</p>")
    return "".join(parts)


def _runs_table(runs: list[RunFolder]) -> str:
    rows = [[run.name, run.metrics.get("setting", ""), run.metrics.get("best_model", ""),
             str(run.k), str(run.metrics.get("split_checksum", ""))[:12]] for run in runs]
    return _table(["run", "setting", "best on validation", "k", "split"], rows)


def _table(header: list[str], rows: list[list]) -> str:
    def cell(value) -> str:
        if isinstance(value, tuple):  # (text, css class)
            return f"<td class='{html.escape(value[1])}'>{html.escape(value[0])}</td>"
        return f"<td>{value if isinstance(value, Markup) else html.escape(str(value))}</td>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(data: bytes, alt: str) -> str:
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{base64.b64encode(data).decode()}'>"
