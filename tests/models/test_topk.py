"""Top-k selection and seen-item masking against a full stable sort."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recforge.models.base import mask_rows, topk_rows


def _reference(scores: np.ndarray, k: int) -> np.ndarray:
    cols = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    return np.lexsort((cols, -scores), axis=1)[:, :k]


@pytest.mark.parametrize("shape", [(7, 50), (300, 4000)])  # numpy path and torch path
@pytest.mark.parametrize("levels", [None, 3, 40])  # continuous scores and heavy ties
def test_topk_matches_stable_sort(shape: tuple[int, int], levels: int | None, rng: np.random.Generator) -> None:
    s = rng.random(shape, dtype=np.float32)
    if levels is not None:
        s = np.floor(s * levels).astype(np.float32)
    s[:, : shape[1] // 10] = -np.inf
    for k in (1, 10, shape[1] - 1, shape[1]):
        idx, val = topk_rows(s, k)
        np.testing.assert_array_equal(idx, _reference(s, k))
        np.testing.assert_array_equal(val, np.take_along_axis(s, idx, axis=1))


def test_topk_k_larger_than_catalogue() -> None:
    s = np.array([[0.1, 0.3, 0.2]], dtype=np.float32)
    idx, _ = topk_rows(s, 10)
    assert idx.tolist() == [[1, 2, 0]]


def test_mask_rows_hides_exactly_the_seen_items() -> None:
    seen = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float32))
    scores = np.ones((2, 4), dtype=np.float32)
    mask_rows(scores, seen, np.array([2, 0]))
    assert np.isneginf(scores).tolist() == [[False, True, False, False], [True, False, True, False]]
