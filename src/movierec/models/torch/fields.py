"""Field embeddings for one side (users or items): id plus pooled side fields.

Every entity (a user or an item) is described by named fields: its own id and the
side fields of :class:`~movierec.data.encoded.EncodedFeatures`. A one-hot field maps
to one embedding; a multi-hot field (genres, directors) is pooled into one embedding
(mean or sum), so the models see a fixed number of fields per side whatever the
number of values. Entities' value lists are stored as padded index tensors, so a
batch gathers its fields with plain indexing on CPU or GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from movierec.data.encoded import FeatureField
from movierec.exceptions import ConfigError, DataError

POOLINGS = ("mean", "sum")


@dataclass(frozen=True)
class FieldLayout:
    """One field as padded indices: ``index[e, j]`` is a value of entity e, weighted by ``weight[e, j]``.

    Padding uses index ``n_values`` (an extra embedding row) with weight 0, so an
    entity without a value in this field pools to the zero vector.
    """

    name: str
    n_values: int
    index: np.ndarray  # int64 (n_entities, max_len)
    weight: np.ndarray  # float32 (n_entities, max_len)


def id_layout(name: str, n_entities: int) -> FieldLayout:
    """The id field: entity e has the single value e."""
    return FieldLayout(name, n_entities, np.arange(n_entities, dtype=np.int64)[:, None],
                       np.ones((n_entities, 1), dtype=np.float32))


def csr_layout(name: str, matrix: sp.csr_matrix, pooling: str) -> FieldLayout:
    """Padded layout of a binary CSR field (entities x values), pooled by `pooling`."""
    if pooling not in POOLINGS:
        raise ConfigError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    matrix = sp.csr_matrix(matrix)
    n_entities, n_values = matrix.shape
    lengths = np.diff(matrix.indptr)
    width = max(int(lengths.max()) if n_entities else 1, 1)
    index = np.full((n_entities, width), n_values, dtype=np.int64)
    weight = np.zeros((n_entities, width), dtype=np.float32)
    rows = np.repeat(np.arange(n_entities), lengths)
    slots = np.arange(matrix.nnz) - np.repeat(matrix.indptr[:-1], lengths)
    index[rows, slots] = matrix.indices
    per_value = 1.0 / np.maximum(lengths, 1) if pooling == "mean" else np.ones(n_entities)
    weight[rows, slots] = per_value[rows]
    return FieldLayout(name, n_values, index, weight)


def side_layouts(
    side: str,
    n_entities: int,
    fields: dict[str, FeatureField] | None,
    pooling: str,
) -> list[FieldLayout]:
    """The id field then every side field of one side, checked against `n_entities`.

    Raises
    ------
    DataError
        If a field's matrix does not have one row per entity.
    """
    layouts = [id_layout(f"{side}_id", n_entities)]
    for name, field in sorted((fields or {}).items()):
        if field.matrix.shape[0] != n_entities:
            raise DataError(
                f"{side} field {name!r} has {field.matrix.shape[0]} rows but the interaction matrix "
                f"has {n_entities} {side}s; encode fields against the same IdMap as X"
            )
        if field.n_values == 0:
            continue
        layouts.append(csr_layout(f"{side}_{name}", field.matrix, pooling))
    return layouts


class FieldEmbedder(nn.Module):
    """Per-field embeddings (dim) and first-order weights for one side.

    ``forward(entities)`` returns ``(embeddings, linear)``: the pooled embedding of
    every field, shape (B, n_fields, dim), and the summed first-order weight, (B,).
    """

    def __init__(self, layouts: list[FieldLayout], dim: int, init_std: float = 0.01) -> None:
        super().__init__()
        self.names = [layout.name for layout in layouts]
        self.tables = nn.ModuleList(nn.Embedding(layout.n_values + 1, dim) for layout in layouts)
        self.linear = nn.ModuleList(nn.Embedding(layout.n_values + 1, 1) for layout in layouts)
        for table, linear in zip(self.tables, self.linear):
            nn.init.normal_(table.weight, std=init_std)
            nn.init.zeros_(linear.weight)
        for position, layout in enumerate(layouts):
            self.register_buffer(f"index_{position}", torch.from_numpy(layout.index))
            self.register_buffer(f"weight_{position}", torch.from_numpy(layout.weight))
        self.single = self._single_valued()

    def _single_valued(self) -> tuple[bool, ...]:
        """Per field: one value of weight 1 for every entity (ids, a complete one-hot field).

        Pooling such a field is its embedding lookup, so `forward` skips the weight
        product and the sum: the same numbers with fewer operations, whose overhead is
        what a small model's step costs.
        """
        return tuple(bool(getattr(self, f"index_{p}").shape[1] == 1 and (getattr(self, f"weight_{p}") == 1).all())
                     for p in range(len(self.tables)))

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        if "single" not in self.__dict__:  # pickled before the flag existed
            self.single = self._single_valued()

    @property
    def n_fields(self) -> int:
        return len(self.tables)

    def entities(self) -> torch.Tensor:
        """Every entity's index, 0..n-1, on the embedder's device."""
        return torch.arange(self.index_0.shape[0], device=self.index_0.device)

    def forward(self, entities: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embeddings, linear = [], 0.0
        for position, (table, first_order) in enumerate(zip(self.tables, self.linear)):
            if self.single[position]:
                value = getattr(self, f"index_{position}")[:, 0][entities]  # (B,)
                embeddings.append(table(value))
                linear = linear + first_order(value)[:, 0]
                continue
            index = getattr(self, f"index_{position}")[entities]  # (B, L)
            weight = getattr(self, f"weight_{position}")[entities].unsqueeze(-1)  # (B, L, 1)
            embeddings.append((table(index) * weight).sum(1))
            linear = linear + (first_order(index) * weight).sum((1, 2))
        return torch.stack(embeddings, dim=1), linear
