"""The in-process vector index: exhaustive while small, IVF once trained; same answers."""

from __future__ import annotations

import numpy as np
import pytest

from shared.cache.vector_index import VectorIndex


def unit(rng: np.random.Generator, n: int, dim: int = 32) -> np.ndarray:
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_flat_search_add_remove_replace() -> None:
    rng = np.random.default_rng(1)
    vectors = unit(rng, 50)
    index = VectorIndex(32)
    for i, v in enumerate(vectors):
        index.add(f"e{i}", v)
    [best] = index.search(vectors[7], k=1)
    assert best.entry_id == "e7" and best.score == pytest.approx(1.0, abs=1e-5)
    assert index.remove("e7") and not index.remove("e7") and "e7" not in index
    assert index.search(vectors[7], k=1, min_score=0.99) == []
    index.add("e8", vectors[9])  # replacing an id moves it
    assert len(index) == 49 and index.search(vectors[9], k=2)[0].score == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError):
        index.add("bad", np.ones(3))


def test_ivf_finds_near_duplicates_like_a_full_scan() -> None:
    rng = np.random.default_rng(2)
    centres = unit(rng, 40)
    data = centres[rng.integers(0, 40, 3000)] + rng.normal(0, 0.25, (3000, 32)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    index = VectorIndex(32, train_at=1000, nprobe=8)
    for i, v in enumerate(data):
        index.add(str(i), v)
    assert index.cells > 1  # trained (and retrained at 2000)
    queries = data[:200] + rng.normal(0, 0.05, (200, 32)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    agree = sum(index.search(q, k=1)[0].entry_id == str(int(np.argmax(data @ q))) for q in queries)
    assert agree >= 190
    # removals keep positions consistent after swap-removes
    for i in range(0, 3000, 2):
        index.remove(str(i))
    assert len(index) == 1500
    for i in range(1, 200, 2):
        assert index.search(data[i], k=1)[0].entry_id == str(i)
