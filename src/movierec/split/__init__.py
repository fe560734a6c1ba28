"""Holding interactions out per user: random, temporal and the competition's mix."""

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
    "PROTOCOLS",
    "Split",
    "SplitSpec",
    "competition_split",
    "make_split",
    "random_split",
    "read_split",
    "temporal_split",
    "write_split",
]
