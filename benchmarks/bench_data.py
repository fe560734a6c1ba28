"""A data set as the torch benchmarks train on it: every interaction, and the side fields encoded."""

from __future__ import annotations

import os
from pathlib import Path

import scipy.sparse as sp

from movierec.data.encoded import EncodedFeatures, encode_fields
from movierec.data.idmap import IdMap
from movierec.data.interactions import to_csr
from movierec.data.readers import read_dataset


def whole_dataset(folder: str | None) -> tuple[Path, sp.csr_matrix, EncodedFeatures]:
    """`(path, X, features)` of `folder`, or of ml-100k under $MOVIEREC_DATA_DIR when it is None."""
    if folder is None and "MOVIEREC_DATA_DIR" not in os.environ:
        raise SystemExit("set MOVIEREC_DATA_DIR to the folder holding ml-100k, or pass --data DIR")
    path = Path(folder) if folder else Path(os.environ["MOVIEREC_DATA_DIR"]) / "ml-100k"
    dataset = read_dataset(path)
    idmap = IdMap.from_ids(dataset.interactions.user, dataset.interactions.item)
    features = EncodedFeatures(encode_fields(dataset.item_fields, idmap.items)[0],
                               encode_fields(dataset.user_fields, idmap.users)[0])
    return path, to_csr(dataset.interactions, idmap), features
