"""Holding interactions out per user: random, temporal and the competition's mix."""

from movierec.split.encoded import HISTORIES, EncodedSplit, load_encoded
from movierec.split.holdout import holdout_matrix
from movierec.split.split import Split, read_split, write_split
from movierec.split.splitters import (
    PROTOCOLS,
    SplitSpec,
    competition_split,
    make_split,
    random_split,
    temporal_split,
)

__all__ = [
    "HISTORIES",
    "PROTOCOLS",
    "EncodedSplit",
    "Split",
    "SplitSpec",
    "competition_split",
    "holdout_matrix",
    "load_encoded",
    "make_split",
    "random_split",
    "read_split",
    "temporal_split",
    "write_split",
]
