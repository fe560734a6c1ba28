"""What a run writes: CSV through Arrow or pandas alike, the catalogue's .npz as scipy reads it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.output import _write_npz, write_csv


def test_lists_take_arrow_and_keep_every_float_exactly(tmp_path):
    frame = pd.DataFrame({"user": [1, 1], "item": ["tt01", "tt02"], "rank": [1, 2],
                          "score": np.array([0.39386615, -np.inf], dtype=np.float32)})
    write_csv(frame, tmp_path / "lists.csv")
    assert (tmp_path / "lists.csv").read_text().splitlines() == [
        "user,item,rank,score", "1,tt01,1,0.39386615", "1,tt02,2,-inf"]
    back = pd.read_csv(tmp_path / "lists.csv")
    assert back["score"].astype(np.float32).tolist() == frame["score"].tolist()


def test_fields_that_need_quotes_are_quoted(tmp_path):
    frame = pd.DataFrame({"item": [1, 2], "title": ['Heat, The (1995)', 'say "hi"'], "year": [1995.0, np.nan]})
    write_csv(frame, tmp_path / "items.csv")
    back = pd.read_csv(tmp_path / "items.csv")
    assert back["title"].tolist() == frame["title"].tolist()
    assert back["year"].iloc[0] == 1995 and np.isnan(back["year"].iloc[1])


def test_the_npz_is_what_scipy_loads(tmp_path):
    matrix = sp.random(30, 20, density=0.2, format="csr", random_state=0, dtype=np.float64)
    _write_npz(matrix, tmp_path / "known.npz")
    loaded = sp.load_npz(tmp_path / "known.npz")
    assert loaded.format == "csr" and loaded.dtype == np.float32 and loaded.shape == (30, 20)
    np.testing.assert_array_equal(loaded.toarray(), matrix.toarray().astype(np.float32))
