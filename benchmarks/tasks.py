"""Benchmark tasks, each run in its own process by ``benchmarks/run.py`` so that peak
memory (VmHWM, reset before the measured phase) belongs to that task alone.

Usage (what run.py does)::

    python benchmarks/tasks.py ease --data DIR --sizes 1000,2000,4000
    python benchmarks/tasks.py ranking --data DIR --model ease --items 4000 --users 20000 --batch 1024
    python benchmarks/tasks.py sampling --data DIR
    python benchmarks/tasks.py reader --path DIR_OR_FILE
    python benchmarks/tasks.py knn --data DIR --neighbours 100
    python benchmarks/tasks.py topk --sizes 1682,6807,26744 --batch 1024

Each prints one JSON document (a list of result rows) on its last line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import scipy.sparse as sp


# ---- measurement helpers -------------------------------------------------------------------
def status_mb(field: str) -> float:
    """A memory line of /proc/self/status (VmRSS, VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    """Restart the VmHWM high-water mark at the current RSS (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # pragma: no cover - older kernels: peak then covers the whole process
        pass


def gemm_rate(n: int = 3072, repeats: int = 3) -> float:
    """Median float32 GEMM rate (flop/s) of numpy's BLAS on an n x n product.

    The median, not the best: on a shared machine the best of a few short runs is a
    lucky slice that a long solve never gets."""
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    return 2.0 * n**3 / median_seconds(lambda: a @ b, repeats)


def median_seconds(call, repeats: int) -> float:
    """The median wall time of `repeats` calls of `call`, after one untimed warm-up call."""
    call()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return float(np.median(seconds))


def load_matrix(data: Path, n_items: int | None = None, n_users: int | None = None) -> sp.csr_matrix:
    """The binary users x items matrix of a competition-layout folder (pyarrow, not the
    library reader, so loading stays out of what is being measured), optionally cut to
    the `n_items` most popular items and the first `n_users` users."""
    table = pacsv.read_csv(data / "train_ratings.csv", convert_options=pacsv.ConvertOptions(
        include_columns=["user", "item"]))
    users = np.unique(table["user"].to_numpy(), return_inverse=True)[1]
    items = np.unique(table["item"].to_numpy(), return_inverse=True)[1]
    X = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)))
    X.sum_duplicates()
    if n_users is not None and n_users < X.shape[0]:
        X = X[:n_users]
    if n_items is not None and n_items < X.shape[1]:
        counts = np.diff(X.tocsc().indptr)
        X = X[:, np.sort(np.argsort(-counts, kind="stable")[:n_items])]
    return sp.csr_matrix(X)


def bag_stream_rate(n_rows: int, repeats: int = 30) -> float:
    """Bytes/s torch's embedding_bag reads from one cache-resident column block of B.

    The ranking's own kernel on a block of its shape (`n_rows` x `COPIED_BLOCK`), weighted
    as the ranking weights, with long bags: 64 bags each reading every row once, in a
    random order. What the ranking's short bags, the assembly of the blocks' sums and
    the top-k add on top is what a ranking loses against this rate. The median of
    `repeats` short passes, as `gemm_rate`.
    """
    import torch
    import torch.nn.functional as F

    from movierec.models.products import COPIED_BLOCK

    generator = torch.Generator().manual_seed(0)
    block = torch.rand((n_rows, COPIED_BLOCK), generator=generator)
    bags = 64
    indices = torch.cat([torch.randperm(n_rows, generator=generator) for _ in range(bags)])
    offsets = torch.arange(0, bags * n_rows, n_rows)
    weights = torch.ones(len(indices))
    seconds = median_seconds(lambda: F.embedding_bag(indices, block, offsets, mode="sum", per_sample_weights=weights),
                             repeats)
    return 4.0 * len(indices) * COPIED_BLOCK / seconds


# ---- tasks ----------------------------------------------------------------------------------
def task_ease(args: argparse.Namespace) -> list[dict]:
    """EASE fit vs the n^3/GEMM bound vs np.linalg.inv, interleaved per size."""
    from movierec.models.ease import ease_weights, gram

    rows = []
    X_all = load_matrix(args.data)
    counts = np.diff(X_all.tocsc().indptr)
    order = np.argsort(-counts, kind="stable")
    for n in args.sizes:
        if n > X_all.shape[1]:
            continue
        X = sp.csr_matrix(X_all[:, np.sort(order[:n])])
        rate_before = gemm_rate(min(n, 4096))
        started = time.perf_counter()
        G = gram(X)
        gram_s = time.perf_counter() - started
        reference = G.copy() if args.inv_max >= n else None
        reset_peak()
        rss = status_mb("VmRSS")
        started = time.perf_counter()
        B = ease_weights(G, 300.0, overwrite=True)
        solve_s = time.perf_counter() - started
        solve_peak = status_mb("VmHWM") - rss
        del B, G
        inv_s = None
        if reference is not None:
            reference[np.diag_indices_from(reference)] += np.float32(300.0)
            started = time.perf_counter()
            np.linalg.inv(reference)  # what RecBole's EASE does
            inv_s = time.perf_counter() - started
            del reference
        rate = (rate_before + gemm_rate(min(n, 4096))) / 2
        bound = n**3 / rate
        rows.append({
            "n_items": n, "nnz": int(X.nnz), "gemm_gflops": rate / 1e9, "bound_s": bound,
            "gram_s": gram_s, "solve_s": solve_s, "fit_s": gram_s + solve_s,
            "solve_over_bound": solve_s / bound, "inv_s": inv_s,
            "inv_over_solve": inv_s / solve_s if inv_s else None,
            "solve_extra_mb": solve_peak, "matrix_mb": n * n * 4 / 2**20,
        })
        print(json.dumps(rows[-1]), flush=True)
    return rows


def task_ranking(args: argparse.Namespace) -> list[dict]:
    """Full-ranking top-10 over every item, as `recommend` ranks: users/s and peak RSS of the ranking phase."""
    from movierec.models.registry import create

    X = load_matrix(args.data, args.items, args.users)
    params = {"ease": {"l2": 300.0}, "pop": {},
              "fm": {"epochs": 1, "dim": 64, "patience": 0, "device": "cpu"},
              "ials": {"epochs": 1, "device": "cpu"}}[args.model]
    started = time.perf_counter()
    model = create(args.model, **params).fit(X)
    fit_s = time.perf_counter() - started
    users = np.arange(X.shape[0])
    reset_peak()
    rss = status_mb("VmRSS")
    started = time.perf_counter()
    model.recommend(users, 10, exclude=X, batch_size=args.batch)
    seconds = time.perf_counter() - started
    row = {
        "model": args.model, "n_users": X.shape[0], "n_items": X.shape[1], "nnz": int(X.nnz),
        "batch_size": args.batch, "users_per_s": len(users) / seconds, "rank_s": seconds,
        "rank_peak_extra_mb": status_mb("VmHWM") - rss, "score_block_mb": args.batch * X.shape[1] * 4 / 2**20,
        "rss_mb": rss, "peak_rss_mb": status_mb("VmHWM"), "fit_s": fit_s,
    }
    if args.model in ("fm", "ials"):  # one epoch over every positive (FM: plus its n_negatives)
        row[f"{args.model}_positives_per_s"] = X.nnz / fit_s
    if args.model == "ease":  # the product's flops at the GEMM rate: 2 per history item and column of B,
        from movierec.models.products import DENSE_DENSITY  # or the dense GEMM's where histories are that dense

        rate = gemm_rate()
        dense = X.nnz > DENSE_DENSITY * X.shape[0] * X.shape[1]
        flops = 2.0 * (X.shape[0] if dense else X.nnz / X.shape[1]) * X.shape[1] ** 2
        row |= {"gemm_gflops": rate / 1e9, "product": "dense" if dense else "sparse", "product_gflop": flops / 1e9,
                "bound_s": flops / rate, "rank_over_bound": seconds * rate / flops}
        if not dense:  # each history item reads a row of B: those bytes at the kernel's own streaming rate
            streamed = 4.0 * X.nnz * X.shape[1]
            stream_rate = bag_stream_rate(X.shape[1])
            row |= {"streamed_gb": streamed / 1e9, "streamed_gbs": streamed / seconds / 1e9,
                    "bag_stream_gbs": stream_rate / 1e9, "stream_bound_s": streamed / stream_rate,
                    "rank_over_stream_bound": seconds * stream_rate / streamed}
    return [row]


def task_sampling(args: argparse.Namespace) -> list[dict]:
    """Negatives per second for every positive pair of the data set."""
    from movierec.sampling.negatives import popularity_negatives, seen_keys, uniform_negatives

    X = load_matrix(args.data)
    started = time.perf_counter()
    keys = seen_keys(X)
    keys_s = time.perf_counter() - started
    users = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    rows = []
    for name, sampler in (("uniform", uniform_negatives), ("popularity", popularity_negatives)):
        rng = np.random.default_rng(0)
        reset_peak()
        rss = status_mb("VmRSS")
        started = time.perf_counter()
        negatives = sampler(X, users, args.negatives, rng, keys=keys)
        seconds = time.perf_counter() - started
        rows.append({"sampler": name, "pairs": len(users), "negatives_per_pair": args.negatives,
                     "samples_per_s": negatives.size / seconds, "seconds": seconds, "seen_keys_s": keys_s,
                     "peak_extra_mb": status_mb("VmHWM") - rss})
    return rows


def task_reader(args: argparse.Namespace) -> list[dict]:
    """Rows per second of read_dataset on one file or folder."""
    from movierec.data.readers import detect_layout, read_dataset

    reset_peak()
    rss = status_mb("VmRSS")
    started = time.perf_counter()
    dataset = read_dataset(args.path)
    seconds = time.perf_counter() - started
    return [{"layout": detect_layout(args.path), "rows": dataset.n_interactions, "seconds": seconds,
             "rows_per_s": dataset.n_interactions / seconds, "peak_extra_mb": status_mb("VmHWM") - rss,
             "file_mb": _size_mb(args.path)}]


def task_knn(args: argparse.Namespace) -> list[dict]:
    """The reranker's item-kNN matrix (each item's nearest neighbours by cosine): seconds
    and peak memory, against the dense items x items matrix it replaces."""
    from movierec.models.composite.features import item_cosine

    X = load_matrix(args.data)
    reset_peak()
    rss = status_mb("VmRSS")
    started = time.perf_counter()
    cosine = item_cosine(X, args.neighbours)
    seconds = time.perf_counter() - started
    n_items = X.shape[1]
    return [{"n_users": X.shape[0], "n_items": n_items, "nnz": int(X.nnz), "neighbours": args.neighbours,
             "seconds": seconds, "peak_extra_mb": status_mb("VmHWM") - rss,
             "knn_mb": (cosine.data.nbytes + cosine.indices.nbytes + cosine.indptr.nbytes) / 2**20,
             "dense_mb": n_items * n_items * 4 / 2**20}]


def task_topk(args: argparse.Namespace) -> list[dict]:
    """`ranking.top_k` (k = 10) with its chunk screen and without it (one ``torch.topk`` over
    the whole block, as before the screen), on (batch, items) blocks of random scores: the
    median of 15 alternating calls each."""
    import torch

    from movierec import ranking

    rng = np.random.default_rng(0)
    screened = ranking.SCREEN_CHUNKS_PER_PLACE
    rows = []
    for n_items in args.sizes:
        block = rng.standard_normal((args.batch, n_items), dtype=np.float32)
        timed: dict[int, list[float]] = {0: [], 1: []}
        try:
            for _ in range(15):
                for screen in (0, 1):
                    ranking.SCREEN_CHUNKS_PER_PLACE = screened if screen else n_items + 1  # n_items + 1: never
                    started = time.perf_counter()
                    ranking.top_k(block, 10)
                    timed[screen].append(time.perf_counter() - started)
        finally:
            ranking.SCREEN_CHUNKS_PER_PLACE = screened
        plain, ours = (float(np.median(timed[screen])) for screen in (0, 1))
        rows.append({"n_items": n_items, "batch": args.batch, "k": 10, "threads": torch.get_num_threads(),
                     "screens": n_items // ranking.SCREEN_WIDTH >= screened * 11,
                     "one_topk_ms": plain * 1e3, "top_k_ms": ours * 1e3, "speedup": plain / ours})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def _size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.iterdir() if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["ease", "ranking", "sampling", "reader", "knn", "topk"])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--path", type=Path)
    parser.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")], default=[1000, 2000, 4000])
    parser.add_argument("--inv-max", type=int, default=8000, help="largest n for the np.linalg.inv baseline")
    parser.add_argument("--model", default="ease", choices=["ease", "pop", "fm", "ials"])
    parser.add_argument("--items", type=int)
    parser.add_argument("--users", type=int)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--negatives", type=int, default=4)
    parser.add_argument("--neighbours", type=int, default=100)
    args = parser.parse_args()
    rows = {"ease": task_ease, "ranking": task_ranking, "sampling": task_sampling, "reader": task_reader,
            "knn": task_knn, "topk": task_topk}[args.task](args)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
