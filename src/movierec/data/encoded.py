"""Side fields encoded against an IdMap: one CSR (entities x values) per field."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.data.dataset import FieldKind, RawField


@dataclass(frozen=True)
class FeatureField:
    """One encoded field.

    ``matrix`` is a binary float32 CSR of shape (n_entities, n_values); a one-hot
    field has at most one non-zero per row; an entity absent from the source has an
    empty row. ``vocabulary[j]`` is the raw value of column j.
    """

    name: str
    kind: FieldKind
    matrix: sp.csr_matrix
    vocabulary: np.ndarray

    @property
    def n_values(self) -> int:
        return self.matrix.shape[1]


@dataclass(frozen=True)
class EncodedFeatures:
    """The side information models may use, aligned with the IdMap's indices."""

    item_fields: dict[str, FeatureField] = field(default_factory=dict)
    user_fields: dict[str, FeatureField] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.item_fields and not self.user_fields


def encode_fields(fields: dict[str, RawField], index: pd.Index) -> tuple[dict[str, FeatureField], int]:
    """Encode raw fields against the entity `index` (users or items of an IdMap).

    Rows whose id is not in `index` are dropped (side files commonly describe items
    nobody interacted with); the second return value counts them.
    """
    encoded: dict[str, FeatureField] = {}
    dropped = 0
    for name, raw in fields.items():
        rows = index.get_indexer(raw.values["id"].to_numpy())
        known = rows >= 0
        dropped += int((~known).sum())
        values = raw.values["value"].astype(str).to_numpy()[known]
        codes, vocabulary = pd.factorize(pd.Series(values), sort=True)
        matrix = sp.csr_matrix(
            (np.ones(len(codes), dtype=np.float32), (rows[known], codes)),
            shape=(len(index), len(vocabulary)),
        )
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        encoded[name] = FeatureField(name, raw.kind, matrix, np.asarray(vocabulary, dtype=object))
    return encoded, dropped
