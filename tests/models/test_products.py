import numpy as np
import pytest
import scipy.sparse as sp

from movierec.models import products
from movierec.models.products import HistoryProduct, history_times


def weighted_rows(n_rows: int, n_cols: int, density: float, seed: int) -> sp.csr_matrix:
    rows = sp.random(n_rows, n_cols, density=density, format="csr", random_state=seed, dtype=np.float32)
    rows.data[:] = np.random.default_rng(seed).uniform(0.1, 1.0, rows.nnz)  # recency weights, not only ones
    keep = np.ones(n_rows, dtype=np.float32)
    keep[3] = 0  # an empty history
    rows = sp.csr_matrix(sp.diags(keep) @ rows)
    rows.eliminate_zeros()
    return rows


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_rows", [5, 200])  # a served request, a batch
def test_every_path_of_the_product_equals_scipys(monkeypatch, dtype, n_rows):
    rows = weighted_rows(n_rows, 90, 0.03, seed=n_rows)
    B = np.random.default_rng(1).standard_normal((90, 70)).astype(dtype)
    expected = np.asarray(rows.astype(dtype) @ B)
    monkeypatch.setattr(products, "COLUMN_BLOCK", 16)  # 70 columns: a ragged last block
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    for density in (1.0, 0.0):  # the sparse sums, then the dense GEMM
        monkeypatch.setattr(products, "DENSE_DENSITY", density)
        out = history_times(rows, B)
        assert out.shape == (n_rows, 70) and out.dtype == dtype
        np.testing.assert_allclose(out, expected, rtol=tolerance, atol=tolerance)
    assert np.all(history_times(rows, B)[3] == 0)


def test_a_read_only_or_strided_matrix_is_only_read():
    rows = weighted_rows(100, 40, 0.05, seed=2)
    B = np.asfortranarray(np.random.default_rng(2).standard_normal((40, 40)).astype(np.float32))
    B.flags.writeable = False
    before = B.copy()
    np.testing.assert_allclose(history_times(rows, B), rows @ before, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(B, before)


def test_history_product_sums_from_its_copied_blocks_bit_for_bit(monkeypatch):
    """From the second sparse batch on, contiguous copied blocks (a ragged last one) give
    the sums of strided views of B exactly."""
    monkeypatch.setattr(products, "COPIED_BLOCK", 16)
    monkeypatch.setattr(products, "COLUMN_BLOCK", 24)  # the reference: strided 24-column views
    rows = weighted_rows(200, 70, 0.03, seed=4)
    B = np.random.default_rng(4).standard_normal((70, 70)).astype(np.float32)
    scorer = HistoryProduct(rows.__getitem__, B)
    users = np.arange(200)
    assert products.product_path(rows) == "sparse"
    expected = history_times(rows, B)
    np.testing.assert_array_equal(scorer(users), expected)
    assert scorer._blocks is None  # a ranking of one batch never copies B
    np.testing.assert_array_equal(scorer(users), expected)
    blocks = scorer._blocks
    assert [block.shape[1] for block in blocks] == [16, 16, 16, 16, 6]
    assert all(block.is_contiguous() for block in blocks)
    np.testing.assert_array_equal(scorer(users[::-1]), expected[::-1])
    assert scorer._blocks is blocks  # one copy for every later batch of the ranking


def test_history_product_scores_only_its_columns_and_copies_only_small_matrices(monkeypatch):
    rows = weighted_rows(100, 50, 0.03, seed=5)
    columns = np.arange(0, 50, 2)
    B = np.random.default_rng(5).standard_normal((25, 25)).astype(np.float32)
    monkeypatch.setattr(products, "BLOCK_COPY_BYTES", B.nbytes - 1)
    scorer = HistoryProduct(rows.__getitem__, B, columns)
    for _ in range(3):
        scores = scorer(np.arange(100))
    assert scorer._blocks is None  # above the size limit: the strided path
    np.testing.assert_array_equal(scores[:, columns], history_times(rows[:, columns], B))
    assert np.all(scores[:, 1::2] == -np.inf)
    monkeypatch.setattr(products, "BLOCK_COPY_BYTES", B.nbytes)
    few = HistoryProduct(rows.__getitem__, B, columns)
    for _ in range(3):
        few(np.arange(5))
    assert few._blocks is None  # served requests: scipy's product, no copy
