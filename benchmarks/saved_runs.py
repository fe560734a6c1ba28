"""A saved model of a run folder, scored as the run tested it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from movierec.models.base import ContinuesSequences, Recommender
from movierec.ranking import top_unseen
from movierec.split import EncodedSplit


def tested_top(run: Path, name: str, data: EncodedSplit, users: np.ndarray, n: int) -> np.ndarray:
    """The top `n` items of `users` by the model `name` saved in `run`/models, train and
    validation items masked; a sequence model fitted on train alone scores each sequence
    continued through the validation items, as a run without refit tests it."""
    seen = data.train_valid
    model = Recommender.load(Path(run) / "models" / f"{name}.pkl")
    if isinstance(model, ContinuesSequences) and model.X_.nnz < seen.nnz:
        model = model.continued(seen, data.timestamps("train_valid"))
    return top_unseen(np.array(model.score(users), dtype=np.float32), seen[users], n)[0]
