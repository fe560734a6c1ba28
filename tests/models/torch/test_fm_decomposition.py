"""FM full ranking (user side @ item side + terms) equals brute-force pairwise scoring.

Fixture: 5 users x 7 items; users have a one-hot ``age`` (user 4 has none); items a
multi-hot ``genre`` (item 6 has none, item 0 has three) and a one-hot ``year``::

    genre  item: 0 -> {0, 1, 2}   1 -> {1}   2 -> {2, 3}   3 -> {0}   4 -> {3}   5 -> {1, 3}   6 -> {}
"""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from movierec.data.dataset import FieldKind
from movierec.data.encoded import EncodedFeatures, FeatureField
from movierec.data.interactions import csr_from_indices
from movierec.exceptions import DataError
from movierec.models.torch.common import layouts_for
from movierec.models.torch.fm import FM
from movierec.models.torch.modules import FMModule

GENRES = {0: [0, 1, 2], 1: [1], 2: [2, 3], 3: [0], 4: [3], 5: [1, 3], 6: []}


def features() -> EncodedFeatures:
    rows = [item for item, values in GENRES.items() for _ in values]
    cols = [value for values in GENRES.values() for value in values]
    genre = FeatureField("genre", FieldKind.MULTI_HOT, csr_from_indices(np.array(rows), np.array(cols), (7, 4)),
                         np.array(list("abcd"), dtype=object))
    year = FeatureField("year", FieldKind.ONE_HOT, csr_from_indices(np.arange(7), np.arange(7) % 3, (7, 3)),
                        np.array(["1990", "1995", "1998"], dtype=object))
    age = FeatureField("age", FieldKind.ONE_HOT, csr_from_indices(np.arange(4), np.array([0, 1, 1, 0]), (5, 2)),
                       np.array(["18", "25"], dtype=object))
    return EncodedFeatures({"genre": genre, "year": year}, {"age": age})


def random_module(pooling: str) -> tuple[FMModule, sp.csr_matrix]:
    X = sp.csr_matrix(np.eye(5, 7, dtype=np.float32))
    users, items = layouts_for(X, features(), use_features=True, pooling=pooling)
    torch.manual_seed(0)
    module = FMModule(users, items, dim=4, init_std=0.5)
    with torch.no_grad():  # non-zero first-order weights and bias, so every term is checked
        for parameter in module.parameters():
            parameter.normal_()
    return module.eval(), X


@torch.no_grad()
def brute_force(module: FMModule, user: int, item: int, pooling: str) -> float:
    """Rendle's formula over the explicit list of field vectors of one (user, item) pair."""
    feats = features()
    vectors, linear = [], float(module.bias)
    fields = [("user", module.users, [[user]]), ("item", module.items, [[item]])]
    per_side = {"user": [feats.user_fields["age"]], "item": [feats.item_fields["genre"], feats.item_fields["year"]]}
    for side, embedder, _ in fields:
        entity = user if side == "user" else item
        values_per_field = [[entity]] + [list(field.matrix[entity].indices) for field in per_side[side]]
        for table, first_order, values in zip(embedder.tables, embedder.linear, values_per_field):
            if not values:
                vectors.append(torch.zeros(table.weight.shape[1]))
                continue
            weight = 1.0 / len(values) if pooling == "mean" else 1.0
            vectors.append(sum(table.weight[v] * weight for v in values))
            linear += float(sum(first_order.weight[v, 0] * weight for v in values))
    pairwise = sum(float(a @ b) for a, b in itertools.combinations(vectors, 2))
    return linear + pairwise


@pytest.mark.parametrize("pooling", ["mean", "sum"])
def test_full_ranking_equals_brute_force(pooling):
    module, X = random_module(pooling)
    sides = FM._sides(module, X.shape, torch.device("cpu"))
    full = FM._product(sides, np.arange(5))
    expected = np.array([[brute_force(module, u, i, pooling) for i in range(7)] for u in range(5)])
    np.testing.assert_allclose(full, expected, rtol=1e-4, atol=1e-4)
    # the training forward (pairs and (B, n) item lists) agrees with both
    with torch.no_grad():
        pairs, _ = module(torch.arange(5), torch.arange(7).repeat(5, 1))
        single, _ = module(torch.tensor([2, 4]), torch.tensor([6, 0]))
    np.testing.assert_allclose(pairs.numpy(), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(single.numpy(), expected[[2, 4], [6, 0]], rtol=1e-4, atol=1e-4)


def test_field_rows_must_match_the_matrix():
    X = sp.csr_matrix(np.eye(6, 7, dtype=np.float32))  # 6 users, age field has 5 rows
    with pytest.raises(DataError, match="user field 'age' has 5 rows"):
        FM(dim=4, epochs=1, device="cpu").fit(X, features=features())
