"""The tables of docs/results.md: `movierec run` on the fixed ml-100k splits, collected.

Nothing here trains a model: each table is a list of `movierec run` commands (printed
as they start, the same ones docs/results.md shows), and this script gathers their
`metrics.json` into one results file per table.

Usage::

    MOVIEREC_DATA_DIR=../shared/data python benchmarks/fixed_splits.py --table composite
    python benchmarks/fixed_splits.py --table composite-sasrec   # the same with SASRec as a member
    python benchmarks/fixed_splits.py --table composite-sasrec-catalogue   # ... and FM trained on the catalogue (mixed)
    python benchmarks/fixed_splits.py --table composite-sasrec-hybrid   # ... SASRec and the item+user EASE (mixed)
    python benchmarks/fixed_splits.py --table composite-sasrec-recvae   # ... SASRec, candidates from RecVAE (mixed)
    python benchmarks/fixed_splits.py --table composite-sasrec-200      # ... SASRec, 200 candidates (mixed)
    python benchmarks/fixed_splits.py --table composite-sasrec-ema      # ... SASRec with its weight averaging (mixed)
    python benchmarks/fixed_splits.py --table composite-ials            # ... SASRec and iALS as members
    python benchmarks/fixed_splits.py --table ease          # pop and EASE, the anchors' figures
    python benchmarks/fixed_splits.py --table protocols     # EASE against popularity per protocol
    python benchmarks/fixed_splits.py --table liked         # ratings >= 4 as positives, 5-core, per protocol
    python benchmarks/fixed_splits.py --table cfm           # CFM and deep CFM, no refit
    python benchmarks/fixed_splits.py --table ease-search   # EASE's golden-section l2 against the 9-point grid
    python benchmarks/fixed_splits.py --table sequence      # SASRec and BERT4Rec against EASE, temporal protocol
    python benchmarks/fixed_splits.py --table sequence-bert4rec-long   # BERT4Rec trained longer, temporal protocol
    python benchmarks/fixed_splits.py --table fm            # FM's defaults on the mixed split, timed (2 threads)
    python benchmarks/fixed_splits.py --table user-ease     # user EASE and the item+user hybrid beside EASE

``--collect`` gathers run folders the printed commands already made (under
``--runs-dir``) instead of running them (it trusts that they did; a row's seconds are
then the run's own, from its metrics.json). Writes ``benchmarks/results/<table>.json`` (per run: command, seconds, every model's
chosen parameters, validation and test metrics) and prints the table as markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from movierec.atomic import atomic_write_bytes

SPLITS = ("mixed", "random")
SETTINGS = ("no-refit", "refit")
TABLES = ("composite", "composite-sasrec", "composite-sasrec-catalogue", "composite-sasrec-hybrid",
          "composite-sasrec-recvae", "composite-sasrec-200", "composite-sasrec-ema", "composite-sasrec-shuffled",
          "composite-ials", "ease", "cfm", "protocols",
          "ease-search", "sequence", "sequence-bert4rec-long", "fm", "user-ease", "liked")
# the config suffix of each composite table (benchmarks/configs/ml100k-<split><suffix>.toml) and its splits
COMPOSITE = {"composite": ("", SPLITS), "composite-sasrec": ("-sasrec", SPLITS),
             "composite-sasrec-catalogue": ("-sasrec-catalogue", ("mixed",)),
             "composite-sasrec-hybrid": ("-sasrec-hybrid", ("mixed",)),
             "composite-sasrec-recvae": ("-sasrec-recvae", ("mixed",)),
             "composite-sasrec-200": ("-sasrec-200", ("mixed",)),
             "composite-sasrec-ema": ("-sasrec-ema", ("mixed",)),
             "composite-sasrec-shuffled": ("-sasrec-shuffled", ("mixed",)),
             "composite-ials": ("-ials", SPLITS)}
# the config of each temporal-protocol table (benchmarks/configs/<config>)
SEQUENCE = {"sequence": "ml100k-temporal.toml", "sequence-bert4rec-long": "ml100k-temporal-bert4rec-long.toml"}


def runs(table: str, shared: Path) -> list[tuple[str, list[str]]]:
    """(label, `movierec run` arguments) of every run of a table."""
    out = []
    if table in (*COMPOSITE, "ease", "user-ease"):
        suffix, splits = COMPOSITE.get(table, ("", SPLITS))
        for split in splits:
            for setting in SETTINGS:
                args = ["--split-dir", str(shared / "splits" / f"ml100k-{split}-s0")]
                if table in COMPOSITE:
                    args = ["--config", f"benchmarks/configs/ml100k-{split}{suffix}.toml", *args]
                else:
                    args += ["--data", "ml-100k", "--models", "ease,userease,hybridease"] if table == "user-ease" \
                        else ["--models", "pop,ease"]
                out.append((f"{split} {setting}", args + (["--no-refit"] if setting == "no-refit" else [])))
    elif table == "cfm":
        for split in SPLITS:
            out.append((f"{split} no-refit", ["--config", "benchmarks/configs/ml100k-cfm.toml", "--split-dir",
                                              str(shared / "splits" / f"ml100k-{split}-s0"), "--no-refit"]))
    elif table == "protocols":
        for protocol in ("competition", "random", "temporal"):
            for setting in SETTINGS:
                args = ["--data", "ml-100k", "--protocol", protocol, "--models", "pop,ease"]
                out.append((f"{protocol} {setting}", args + (["--no-refit"] if setting == "no-refit" else [])))
    elif table == "liked":  # the positives of the Mult-VAE / EASE / RecVAE protocols: ratings >= 4, a 5-core
        for protocol in ("competition", "random"):
            out.append((f"{protocol} refit", ["--data", "ml-100k", "--protocol", protocol, "--models", "pop,ease,dlae,ials",
                                              "--min-rating", "4", "--min-user-items", "5", "--min-item-users", "5"]))
    elif table == "ease-search":
        places = [(f"{split} split", ["--split-dir", str(shared / "splits" / f"ml100k-{split}-s0")]) for split in SPLITS]
        places += [(f"{protocol} protocol", ["--data", "ml-100k", "--protocol", protocol])
                   for protocol in ("competition", "random", "temporal")]
        for place, args in places:
            out.append((f"{place} grid", ["--config", "benchmarks/configs/ease-grid9.toml", *args, "--no-refit"]))
            out.append((f"{place} golden", [*args, "--models", "ease", "--no-refit"]))
    elif table == "fm":  # what RecBole's FM was timed on (../shared/anchors.md): train to early stop, then test
        out.append(("mixed no-refit", ["--split-dir", str(shared / "splits" / "ml100k-mixed-s0"), "--data", "ml-100k",
                                       "--models", "fm", "--no-refit", "--threads", "2"]))
    elif table in SEQUENCE:
        for setting in SETTINGS:
            args = ["--config", f"benchmarks/configs/{SEQUENCE[table]}"]
            out.append((f"temporal {setting}", args + (["--no-refit"] if setting == "no-refit" else [])))
    else:
        raise SystemExit(f"unknown table {table!r}; expected {', '.join(TABLES)}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, choices=TABLES)
    parser.add_argument("--only", default=None, help="run only the labels containing this text, e.g. 'mixed no-refit'")
    parser.add_argument("--runs-dir", default="runs/results")
    parser.add_argument("--threads", type=int, default=None,
                        help="passed to every run (figures of the torch models depend on the thread count)")
    parser.add_argument("--collect", action="store_true",
                        help="gather the run folders already made by these commands instead of running them")
    args = parser.parse_args()
    shared = Path(os.environ.get("MOVIEREC_DATA_DIR", "../shared/data")).resolve().parent
    results_path = Path("benchmarks/results") / f"{args.table}.json"
    rows = json.loads(results_path.read_text()) if results_path.exists() else []
    for label, run_args in runs(args.table, shared):
        if args.only and args.only not in label:
            continue
        if args.threads is not None and "--threads" not in run_args:
            run_args = [*run_args, "--threads", str(args.threads)]
        out = Path(args.runs_dir) / args.table / label.replace(" ", "-")
        command = [sys.executable, "-m", "movierec.cli", "run", *run_args, "--out", str(out)]
        print(("collected from " if args.collect else "$ ") + "movierec run " + shlex.join([*run_args, "--out", str(out)]),
              flush=True)
        started = time.perf_counter()
        if args.collect and not (out / "metrics.json").is_file():
            print(f"  (not collected: {out} holds no metrics.json)")
            continue
        if not args.collect:
            subprocess.run(command, check=True)
        metrics = json.loads((out / "metrics.json").read_text())
        seconds = metrics["seconds"] if args.collect else time.perf_counter() - started
        row = {"run": label, "command": "movierec run " + shlex.join(run_args), "seconds": round(seconds),
               "models": {name: {"params": m["params"], "valid": m["valid"], "test": m["test"], "seconds": m["seconds"],
                                 "epochs": len(m.get("curve", [])),
                                 "fits": len({json.dumps(t["params"].get("l2")) for t in m["trials"]})}
                          for name, m in metrics["models"].items()}}
        rows = [r for r in rows if r["run"] != label] + [row]
        atomic_write_bytes(results_path, (json.dumps(rows, indent=1) + "\n").encode())
    print({"ease-search": search_markdown, "fm": timed_markdown}.get(args.table, markdown)(rows))


def search_markdown(rows: list[dict]) -> str:
    """One line per place: the grid's and the search's l2, inverses, valid and test Recall@10."""
    lines = ["| data | grid: l2, inverses, valid | golden: l2, inverses, valid | test grid / golden |",
             "|---|---|---|---|"]
    by_run = {row["run"]: row["models"]["ease"] for row in rows}
    for place in dict.fromkeys(row["run"].rsplit(" ", 1)[0] for row in rows):
        grid, golden = by_run.get(f"{place} grid"), by_run.get(f"{place} golden")
        if grid is None or golden is None:
            continue
        cells = [f"{m['params']['l2']:g}, {m['fits']}, {m['valid']['recall@10']:.4f}" for m in (grid, golden)]
        lines.append(f"| {place} | {cells[0]} | {cells[1]} | "
                     f"{grid['test']['recall@10']:.4f} / {golden['test']['recall@10']:.4f} |")
    return "\n".join(lines)


def timed_markdown(rows: list[dict]) -> str:
    """Per run and model: epochs trained, the model's seconds (train to early stop + test), test Recall@10."""
    lines = ["| run | model | epochs | model seconds | whole run s | valid R@10 | test R@10 |", "|---" * 7 + "|"]
    for row in rows:
        for name, m in row["models"].items():
            lines.append(f"| {row['run']} | {name} | {m.get('epochs', '')} | {m.get('seconds', '')} | {row['seconds']} | "
                         f"{m['valid']['recall@10']:.4f} | {m['test']['recall@10']:.4f} |")
    return "\n".join(lines)


def markdown(rows: list[dict]) -> str:
    """Test Recall@10 (NDCG@10) of every model, one column per run."""
    models = list(dict.fromkeys(name for row in rows for name in row["models"]))
    lines = ["| model | " + " | ".join(row["run"] for row in rows) + " |", "|---" * (len(rows) + 1) + "|"]
    for name in models:
        cells = [f"{row['models'][name]['test']['recall@10']:.4f} ({row['models'][name]['test']['ndcg@10']:.4f})"
                 if name in row["models"] else "-" for row in rows]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
