"""RecBole 1.2.1's FM on RecBole benchmark files, as ../shared/anchors.md ran it; run by bench_recbole.py.

This file runs inside RecBole's own environment (its pins clash with movierec's:
pandas < 2, numpy < 2), so it imports RecBole and nothing of movierec. It trains FM
with RecBole's defaults (embedding 10, Adam at 1e-3, batch 2,048, one uniform negative),
validates Recall@10 every epoch with full ranking, stops after 10 epochs without a
better one, tests the best epoch, and prints one JSON line: wall seconds from start,
epochs trained, RecBole's valid and test figures (plain recall, its own definition).

Usage::

    python benchmarks/recbole_fm.py DATA_PATH DATASET CHECKPOINT_DIR [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time

STARTED = time.perf_counter()

import torch  # noqa: E402
from recbole.quick_start import run_recbole  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_path")
    parser.add_argument("dataset")
    parser.add_argument("checkpoint_dir")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = {
        "data_path": args.data_path, "benchmark_filename": ["train", "valid", "test"],
        "load_col": {"inter": ["user_id", "item_id", "timestamp"], "item": ["item_id", "genre", "year"],
                     "user": ["user_id", "age", "gender", "occupation"]},
        "eval_args": {"order": "TO", "mode": "full", "group_by": "user"},
        "metrics": ["Recall", "NDCG"], "topk": [10], "valid_metric": "Recall@10",
        "train_neg_sample_args": {"distribution": "uniform", "sample_num": 1},
        "device": "cpu", "use_gpu": False, "seed": 0, "reproducibility": True, "show_progress": False,
        "checkpoint_dir": args.checkpoint_dir, "state": "WARNING",
    }
    epochs = []
    from recbole.trainer import Trainer  # counted through the trainer's own epoch hook

    original = Trainer._train_epoch

    def counted(self, *a, **k):
        epochs.append(1)
        return original(self, *a, **k)

    Trainer._train_epoch = counted
    result = run_recbole(model="FM", dataset=args.dataset, config_dict=config)
    print(json.dumps({"seconds": round(time.perf_counter() - STARTED, 1), "epochs": len(epochs),
                      "threads": args.threads, "torch": torch.__version__,
                      "valid": {k: float(v) for k, v in result["best_valid_result"].items()},
                      "test": {k: float(v) for k, v in result["test_result"].items()}}))


if __name__ == "__main__":
    main()
