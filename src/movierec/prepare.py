"""From a RunConfig to the matrices models consume: read, split, map ids, encode features."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import scipy.sparse as sp

from movierec.config import RunConfig
from movierec.data.dataset import Dataset
from movierec.data.download import resolve
from movierec.data.encoded import EncodedFeatures, encode_fields
from movierec.data.idmap import IdMap
from movierec.data.interactions import timestamps_csr, to_csr
from movierec.data.readers import read_dataset
from movierec.exceptions import ConfigError
from movierec.split import Split, make_split, read_split


@dataclass(frozen=True)
class Prepared:
    """A split in index space: what every model is fitted and evaluated on."""

    split: Split
    idmap: IdMap
    train: sp.csr_matrix
    valid: sp.csr_matrix
    test: sp.csr_matrix
    features: EncodedFeatures
    notes: list[str] = field(default_factory=list)

    @property
    def train_valid(self) -> sp.csr_matrix:
        return (self.train + self.valid).tocsr()

    def times(self, parts: tuple[str, ...]) -> sp.csr_matrix:
        """Timestamps of the union of `parts` (e.g. ("train", "valid")), aligned with its X."""
        frames = [getattr(self.split, part) for part in parts]
        return timestamps_csr(pd.concat(frames, ignore_index=True), self.idmap)


def prepare(config: RunConfig) -> Prepared:
    """Load the data (or the pre-split folder), split it, and encode it against one IdMap."""
    dataset: Dataset | None = None
    if config.data is not None:
        dataset = read_dataset(resolve(config.data, config.data_dir))
    if config.split_dir is not None:
        split = read_split(config.split_dir)
    elif dataset is not None:
        split = make_split(dataset.interactions, config.split)
    else:
        raise ConfigError("give a data set (--data) or a pre-split folder (--split-dir)")
    return encode_split(split, dataset)


def encode_split(split: Split, dataset: Dataset | None = None) -> Prepared:
    """Index a split; side fields come from `dataset` when given.

    The item catalogue is every item of the split's three parts, so test items never
    seen in training are still rankable (and unreachable for pure collaborative models).
    """
    every = pd.concat([split.train, split.valid, split.test], ignore_index=True)
    idmap = IdMap.from_ids(every["user"], every["item"])
    notes = list(dataset.notes) if dataset is not None else []
    features = EncodedFeatures()
    if dataset is not None:
        item_fields, dropped_items = encode_fields(dataset.item_fields, idmap.items)
        user_fields, dropped_users = encode_fields(dataset.user_fields, idmap.users)
        features = EncodedFeatures(item_fields, user_fields)
        if dropped_items:
            notes.append(f"skipped {dropped_items} side-feature rows of items without interactions")
        if dropped_users:
            notes.append(f"skipped {dropped_users} side-feature rows of users without interactions")
    return Prepared(
        split=split,
        idmap=idmap,
        train=to_csr(split.train, idmap),
        valid=to_csr(split.valid, idmap),
        test=to_csr(split.test, idmap),
        features=features,
        notes=notes,
    )
