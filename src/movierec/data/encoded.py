"""Side fields encoded against an IdMap: one CSR (entities x values) per field."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.data.dataset import EventField, FieldKind, RawField


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
    events: ItemEvents | None = field(default=None, compare=False, repr=False)

    @property
    def is_empty(self) -> bool:
        return not self.item_fields and not self.user_fields

    def seen_from(self, history: sp.csr_matrix) -> EncodedFeatures:
        """The fields a model fitted on `history`, a part of the history these were built
        for (an inner hold-out's), may read: the event fields rebuilt from its pairs, so
        a pair held out of it does not hand its item the user's own tag."""
        return self if self.events is None else self.events.seen_from(history)

    def without_events(self) -> EncodedFeatures:
        """The same fields without the events behind them (what a fitted model keeps)."""
        return replace(self, events=None)


@dataclass(frozen=True)
class ItemEvents:
    """Item fields derived from events (tags), with what rebuilding them for a history needs.

    `static` holds the other fields; `users` and `items` are the IdMap's raw ids, which
    the rows and columns of a history stand for.
    """

    fields: dict[str, EventField]
    static: EncodedFeatures
    users: pd.Index
    items: pd.Index

    def seen_from(self, history: sp.csr_matrix) -> EncodedFeatures:
        """Every field as a model fitted on `history` (users x items, over the IdMap) may
        read it: :meth:`EventField.as_seen_from` of its (user, item) pairs."""
        history = sp.csr_matrix(history)
        if history.shape != (len(self.users), len(self.items)):  # rows would name other users
            raise ValueError(f"a history of shape {history.shape} is not over these events' "
                             f"{len(self.users)} users x {len(self.items)} items")
        rows = np.repeat(np.arange(history.shape[0]), np.diff(history.indptr))
        pairs = pd.DataFrame({"user": self.users[rows], "item": self.items[history.indices]})
        seen = {name: events.as_seen_from(pairs, self.users) for name, events in self.fields.items()}
        encoded, _ = encode_fields(seen, self.items)
        return EncodedFeatures(self.static.item_fields | encoded, self.static.user_fields, self)


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
