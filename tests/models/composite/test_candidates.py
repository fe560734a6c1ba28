"""Candidate labels and candidate recall (movierec.models.composite.candidates)."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.data.interactions import csr_from_indices
from movierec.models.composite.candidates import candidate_recall, label_pairs


def test_candidate_recall_and_labels_by_hand():
    truth = csr_from_indices(np.array([0, 0, 1]), np.array([1, 2, 0]), (2, 3))
    candidates = np.array([[1, -1], [2, 1]])
    assert label_pairs(truth, candidates).tolist() == [[True, False], [False, False]]
    assert candidate_recall(candidates, truth, np.array([0, 1])) == pytest.approx(1 / 3)
    assert candidate_recall(candidates[1:], truth, np.array([1])) == 0.0
