"""benchmarks/results/*.json -> benchmarks/RESULTS.md tables and one PNG per preset."""

from __future__ import annotations

import json
from pathlib import Path

ORDER = ("ml100k", "competition", "ml20m")


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    rows = [r for r in rows if "error" not in r]
    if not rows:
        return "_no rows_\n"
    lines = ["| " + " | ".join(title for _, title in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(key)) for key, _ in columns) + " |")
    return "\n".join(lines) + "\n"


def describe_machine(m: dict | None) -> str:
    """One line: cores, BLAS, load and date of a task's run (older results files did not record it)."""
    if not m:
        return "Machine: not recorded for this section (measured before sections kept their own)."
    return (f"Machine: {m.get('cpus')} cores, {', '.join(m.get('blas', []))}, OPENBLAS_CORETYPE="
            f"{m.get('openblas_coretype')}, load average at start {m.get('load_average_at_start')}, {m.get('date')}.")


def preset_section(doc: dict) -> str:
    data = doc.get("data", {})
    spec = data.get("spec", {})
    parts = [f"## {doc['preset']}: {_fmt(spec.get('n_users'))} users x {_fmt(spec.get('n_items'))} items, "
             f"{_fmt(data.get('interactions'))} interactions (seed {data.get('seed')})\n"]
    machines = doc.get("machines", {})

    def heading(task: str, title: str) -> list[str]:
        """A section's title and the machine its rows were measured on (sections run at different times)."""
        return [f"### {title}\n", describe_machine(machines.get(task)) + "\n"]

    if doc.get("ease"):
        parts += [*heading("ease", "EASE fit against the bound and against np.linalg.inv"),
                  "bound = n^3 flops / float32 GEMM rate measured in the same process before and after; "
                  "solve = l2 on the diagonal + inverse + B (in one buffer); inv = `np.linalg.inv` of the same "
                  "matrix (RecBole's EASE).\n",
                  table(doc["ease"], [("n_items", "items"), ("gemm_gflops", "GEMM GFLOP/s"), ("bound_s", "bound s"),
                                      ("solve_s", "solve s"), ("solve_over_bound", "solve / bound"),
                                      ("inv_s", "np.linalg.inv s"), ("inv_over_solve", "inv / solve"),
                                      ("gram_s", "Gram s"), ("fit_s", "fit s"), ("matrix_mb", "n x n MB"),
                                      ("solve_extra_mb", "solve extra MB")])]
    if doc.get("ranking"):
        parts += [*heading("ranking", "Full-ranking top-10 (every item scored, seen items masked)"),
                  "EASE's bound = the product's flops at the float32 GEMM rate measured after the ranking: 2 per "
                  "history item and column of B, or the dense GEMM's where the histories fill more than 5 % of the "
                  "matrix (ml-100k; `movierec.models.products` makes that choice per batch, the bound on the whole "
                  "matrix). Streamed GB/s = the bytes of the rows of B the histories read (4 x history items x "
                  "items) over the ranking's seconds; the traffic bound = those bytes at the rate `embedding_bag` "
                  "reads one cache-resident block of B with long bags (kernel GB/s, `tasks.bag_stream_rate`).\n",
                  table(doc["ranking"], [("model", "model"), ("n_users", "users"), ("n_items", "items"),
                                         ("batch_size", "batch"), ("users_per_s", "users/s"), ("rank_s", "seconds"),
                                         ("bound_s", "bound s"), ("rank_over_bound", "seconds / bound"),
                                         ("streamed_gbs", "streamed GB/s"), ("bag_stream_gbs", "kernel GB/s"),
                                         ("stream_bound_s", "traffic bound s"),
                                         ("rank_over_stream_bound", "seconds / traffic bound"),
                                         ("score_block_mb", "score block MB"), ("peak_rss_mb", "peak RSS MB"),
                                         ("fit_s", "fit s"), ("fm_positives_per_s", "FM positives/s (1 epoch)")])]
    if doc.get("sampling"):
        parts += [*heading("sampling", "Negative sampling (every positive pair, 4 negatives each)"),
                  table(doc["sampling"], [("sampler", "sampler"), ("pairs", "pairs"), ("samples_per_s", "samples/s"),
                                          ("seconds", "seconds"), ("peak_extra_mb", "extra peak MB")])]
    if doc.get("knn"):
        parts += [*heading("knn", "Reranker item-kNN matrix (each item's nearest neighbours by cosine, built in item blocks)"),
                  table(doc["knn"], [("n_items", "items"), ("nnz", "interactions"), ("neighbours", "neighbours"),
                                     ("seconds", "seconds"), ("peak_extra_mb", "extra peak MB"),
                                     ("knn_mb", "kNN MB"), ("dense_mb", "dense items x items MB")])]
    if doc.get("readers"):
        parts += [*heading("readers", "Readers (`read_dataset`, same interactions in each layout)"),
                  table(doc["readers"], [("layout", "layout"), ("rows", "rows"), ("file_mb", "MB on disk"),
                                         ("seconds", "seconds"), ("rows_per_s", "rows/s"),
                                         ("peak_extra_mb", "peak MB")])]
    if doc.get("e2e"):
        rows = []
        for r in doc["e2e"]:
            ease = (r.get("models") or {}).get("ease", {})
            rows.append({"label": r["label"], "wall_s": r["wall_s"], "peak_rss_mb": r["peak_rss_mb"], "cpu_s": r.get("cpu_s"),
                         "ok": "yes" if r["returncode"] == 0 else f"rc {r['returncode']}",
                         "ease_s": ease.get("seconds"), "trials": ease.get("trials"),
                         "recall": ease.get("test_recall@10"),
                         "pop": ((r.get("models") or {}).get("pop") or {}).get("test_recall@10")})
        parts += [*heading("e2e", "End to end `movierec run --models pop,ease` (wall and peak RSS by GNU time)"),
                  table(rows, [("label", "config"), ("ok", "ok"), ("wall_s", "wall s"), ("cpu_s", "CPU s"),
                               ("peak_rss_mb", "peak RSS MB"),
                               ("ease_s", "EASE s (tune+test)"), ("trials", "l2 values"),
                               ("recall", "EASE test recall@10"), ("pop", "pop test recall@10")])]
    return "\n".join(parts)


def plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ease = [r for r in doc.get("ease", []) if "error" not in r]
    ranking = [r for r in doc.get("ranking", []) if "error" not in r and r["model"] == "ease"]
    if not ease and not ranking:
        return
    panels = int(bool(ease)) + int(bool(ranking))
    figure, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4), squeeze=False)
    axes = list(axes[0]) if ease else [None, axes[0][0]]
    if ease:
        n = [r["n_items"] for r in ease]
        axes[0].loglog(n, [r["solve_s"] for r in ease], "o-", label="movierec EASE solve")
        axes[0].loglog(n, [r["bound_s"] for r in ease], "k--", label="n^3 / GEMM rate")
        inv = [(r["n_items"], r["inv_s"]) for r in ease if r.get("inv_s")]
        if inv:
            axes[0].loglog(*zip(*inv), "s-", label="np.linalg.inv (RecBole)")
        axes[0].loglog(n, [r["gram_s"] for r in ease], "^:", label="Gram X^T X")
        axes[0].set_xlabel("items")
        axes[0].set_ylabel("seconds")
        axes[0].set_title(f"EASE fit, {doc['preset']}")
        axes[0].legend()
    if ranking:
        size = [r["n_users"] * r["n_items"] for r in ranking]
        axes[1].loglog(size, [r["users_per_s"] for r in ranking], "o", label="EASE users/s")
        axes[1].set_xlabel("users x items")
        axes[1].set_ylabel("users / second")
        twin = axes[1].twinx()
        twin.semilogx(size, [r["peak_rss_mb"] for r in ranking], "rx", label="peak RSS MB")
        twin.set_ylabel("peak RSS MB", color="r")
        axes[1].set_title("full ranking, batch 1024")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def write_report(results: Path, out: Path) -> None:
    docs = {}
    for preset in ORDER:  # other benchmarks keep their own JSON files beside these
        path = results / f"{preset}.json"
        if path.is_file():
            docs[preset] = json.loads(path.read_text())
    sections = []
    for preset in docs:
        plot(docs[preset], results / f"{preset}.png")
        section = preset_section(docs[preset])
        if (results / f"{preset}.png").is_file():
            section += f"\n![{preset}](results/{preset}.png)\n"
        sections.append(section)
    header = ("# movierec benchmark results\n\nGenerated by `python benchmarks/run.py` from "
              "`benchmarks/results/*.json`; synthetic data from `movierec data synth`. "
              "Commands and discussion: docs/results.md.\n\n")
    out.write_text(header + "\n".join(sections))
