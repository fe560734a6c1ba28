"""iALS: each step's solve against a per-row dense reference, the blocks, fold-in and real data."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from movierec.data.readers import read_dataset
from movierec.evaluate import evaluate
from movierec.exceptions import ConfigError
from movierec.models.popularity import Popularity
from movierec.models.torch import ials
from movierec.models.torch.ials import IALS, solve_rows
from movierec.split import EncodedSplit, read_split


def _reference(rows: sp.csr_matrix, other: np.ndarray, alpha0: float, reg: float, nu: float) -> np.ndarray:
    """Each row's ridge regression written out in float64, one row at a time."""
    other = other.astype(np.float64)
    out = np.zeros((rows.shape[0], other.shape[1]))
    for row in range(rows.shape[0]):
        items, weights = rows[row].indices, rows[row].data.astype(np.float64)
        if not len(items):
            continue
        H = other[items]
        A = alpha0 * other.T @ other + H.T @ (weights[:, None] * H)
        A += reg * (len(items) + alpha0 * other.shape[0]) ** nu * np.eye(other.shape[1])
        out[row] = np.linalg.solve(A, H.T @ weights)
    return out


def _rows(seed: int = 0) -> sp.csr_matrix:
    """Twelve rows of 0..9 entries over 15 columns, weights in (0.5, 2), row 3 empty."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 10, 12)
    counts[3] = 0
    cells = [(row, column) for row, n in enumerate(counts) for column in rng.choice(15, n, replace=False)]
    r, c = np.array(cells).T
    X = sp.csr_matrix((rng.uniform(0.5, 2.0, len(r)).astype(np.float32), (r, c)), shape=(12, 15))
    X.sort_indices()
    return X


@pytest.mark.parametrize("nu", [0.0, 1.0])
def test_solve_rows_is_each_rows_ridge_regression(nu):
    rows = _rows()
    other = np.random.default_rng(1).normal(size=(15, 4)).astype(np.float32)
    got = solve_rows(rows, torch.from_numpy(other), unobserved_weight=0.3, reg=0.05, reg_exponent=nu).numpy()
    np.testing.assert_allclose(got, _reference(rows, other, 0.3, 0.05, nu), rtol=1e-4, atol=1e-5)
    assert not got[3].any()  # a row without entries: the zero vector


@pytest.mark.parametrize("budget", [8, 40])
def test_blocks_of_rows_give_the_same_vectors(monkeypatch, budget):
    """The rows are solved in blocks by length; smaller blocks (one row each at 8, a few
    padded rows each at 40) change no vector."""
    rows, other = _rows(2), torch.from_numpy(np.random.default_rng(3).normal(size=(15, 4)).astype(np.float32))
    whole = solve_rows(rows, other, unobserved_weight=0.1, reg=0.01, reg_exponent=1.0)
    monkeypatch.setattr(ials, "BLOCK_ELEMENTS", budget)
    blocks = ials._length_blocks(np.sort(np.diff(rows.indptr))[2:], 4)  # the ten non-empty rows
    assert len(blocks) == (10 if budget == 8 else 7)  # at 40: (1, 2, 3), (4, 4), then one each
    np.testing.assert_allclose(solve_rows(rows, other, unobserved_weight=0.1, reg=0.01, reg_exponent=1.0), whole,
                               rtol=1e-5, atol=1e-6)


def test_length_blocks_keep_both_budgets(monkeypatch):
    monkeypatch.setattr(ials, "BLOCK_ELEMENTS", 400)
    monkeypatch.setattr(ials, "SYSTEM_ELEMENTS", 300)  # at most three rows of 10 x 10 systems
    lengths = np.array([1, 1, 1, 1, 2, 3, 5, 8, 13, 100])
    blocks = ials._length_blocks(lengths, 10)
    assert [(b.start, b.stop) for b in blocks] == [(0, 3), (3, 6), (6, 9), (9, 10)]


def test_explicit_zeros_are_absent_entries():
    rows, other = _rows(5), torch.from_numpy(np.random.default_rng(6).normal(size=(15, 4)).astype(np.float32))
    cells = rows.tocoo()
    free = np.setdiff1d(np.arange(15), rows[0].indices)[0]  # a column row 0 has no entry in
    padded = sp.csr_matrix((np.append(cells.data, 0.0), (np.append(cells.row, 0), np.append(cells.col, free))),
                           shape=rows.shape)  # the same entries and one stored zero
    assert padded.nnz == rows.nnz + 1
    np.testing.assert_allclose(solve_rows(padded, other, unobserved_weight=0.2, reg=0.05, reg_exponent=1.0),
                               solve_rows(rows, other, unobserved_weight=0.2, reg=0.05, reg_exponent=1.0))


def test_every_epoch_ends_with_the_users_exact_vectors():
    """The last step of an epoch solves the users, so a fitted user's vector is the fold-in
    of its history (weights other than 1 included), and the loss recorded is the objective."""
    X = _rows(4)
    X.data[0] = 0.0  # a stored zero is no entry, in the steps and in the loss
    model = IALS(dim=4, epochs=3, device="cpu").fit(X)
    X.eliminate_zeros()
    again = solve_rows(X, model.module_.items, unobserved_weight=model.unobserved_weight, reg=model.reg,
                       reg_exponent=model.reg_exponent)
    np.testing.assert_allclose(model.module_.users.numpy(), again.numpy(), rtol=1e-5, atol=1e-6)
    assert len(model.train_result_.history) == 3
    W, H = (vectors.numpy().astype(np.float64) for vectors in (model.module_.users, model.module_.items))
    predicted, weights = W @ H.T, X.toarray()
    objective = (weights * (predicted - 1.0) ** 2).sum() + model.unobserved_weight * (predicted**2).sum()
    assert model.train_result_.history[-1]["loss"] == pytest.approx(objective / X.nnz, rel=1e-4)


def test_items_no_history_holds_score_zero_and_are_left_out_of_a_fold_in():
    X = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 0]], dtype=np.float32))
    model = IALS(dim=3, epochs=2, device="cpu").fit(X)
    assert not model.score(np.arange(3))[:, 3].any()
    with_unfitted = sp.csr_matrix(np.array([[1, 1, 0, 1]], dtype=np.float32))
    np.testing.assert_array_equal(model.score_history(with_unfitted), model.score_history(X[0]))
    watched, parts = model.contributions(np.arange(4), history=with_unfitted)
    np.testing.assert_array_equal(watched, [0, 1])


@pytest.mark.parametrize("params, fragment", [({"dim": 0}, "dim >= 1, got 0"), ({"patience": 0}, "patience >= 1"),
                                              ({"reg": 0.0}, "reg > 0, got 0.0"),
                                              ({"unobserved_weight": -1.0}, "unobserved_weight > 0, got -1.0"),
                                              ({"reg": float("nan")}, "reg > 0, got nan"),
                                              ({"reg_exponent": -0.5}, "reg_exponent >= 0")])
def test_parameters_it_cannot_train_with_are_refused(params, fragment):
    with pytest.raises(ConfigError, match=fragment):
        IALS(device="cpu", **params).check_params()


@pytest.mark.realdata
def test_ials_on_the_mixed_split(data_dir, splits_dir):
    """The grid's choice on the mixed split, early-stopped on validation: the figure
    docs/results.md gives (deterministic on the CPU, so the band is two-sided), far above popularity."""
    data = EncodedSplit(read_split(splits_dir / "ml100k-mixed-s0"), read_dataset(data_dir / "ml-100k"))
    model = IALS(reg=0.007, unobserved_weight=0.7, device="cpu").fit(data.train, valid=data.valid)
    recall = evaluate(model.score, data.test, exclude=data.train_valid)["recall@10"]
    assert recall == pytest.approx(0.2910, abs=0.005)
    popular = evaluate(Popularity().fit(data.train).score, data.test, exclude=data.train_valid)["recall@10"]
    assert recall > 1.5 * popular
