"""An in-process vector index for unit vectors (cosine = dot product), numpy only.

Small sets are searched exhaustively. Past ``train_at`` vectors the index becomes an IVF
(inverted file) index: spherical k-means cells, each cell's vectors stored contiguously, and a
query scans only the ``nprobe`` cells whose centroids are closest. It retrains when it has doubled
since the last training. Near-duplicate lookups (the cache's case: cosine >= ~0.8) find the same
neighbour as an exhaustive scan almost always (``bench/semantic_cache.py`` measures this).

Scans use ``np.einsum`` rather than BLAS: a query's matrix-vector products are small, and a
multi-threaded BLAS waiting for a busy core made the tail latency ten times the median.

Not thread-safe: the semantic cache calls it from one worker thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class VectorMatch:
    entry_id: str
    score: float


class _Cell:
    __slots__ = ("count", "ids", "vectors")

    def __init__(self, dim: int, capacity: int = 64) -> None:
        self.vectors = np.empty((capacity, dim), dtype=np.float32)
        self.ids: list[str] = []
        self.count = 0

    def append(self, entry_id: str, vector: np.ndarray) -> int:
        if self.count == len(self.vectors):
            grown = np.empty((max(64, 2 * len(self.vectors)), self.vectors.shape[1]), dtype=np.float32)
            grown[: self.count] = self.vectors[: self.count]
            self.vectors = grown
        self.vectors[self.count] = vector
        self.ids.append(entry_id)
        self.count += 1
        return self.count - 1

    def remove_at(self, position: int) -> str | None:
        """Swap-remove; returns the id that moved into ``position`` (or None)."""
        last = self.count - 1
        moved = None
        if position != last:
            self.vectors[position] = self.vectors[last]
            self.ids[position] = self.ids[last]
            moved = self.ids[position]
        self.ids.pop()
        self.count -= 1
        return moved


def _kmeans(sample: np.ndarray, cells: int, iterations: int, rng: np.random.Generator) -> np.ndarray:
    centroids = sample[rng.choice(len(sample), size=cells, replace=False)].copy()
    for _ in range(iterations):
        assign = np.argmax(sample @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, sample)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        empty = norms[:, 0] < 1e-9
        sums[empty] = sample[rng.choice(len(sample), size=int(empty.sum()), replace=False)]
        norms[empty] = 1.0
        centroids = (sums / norms).astype(np.float32)
    return centroids


class VectorIndex:
    def __init__(
        self, dim: int, *, train_at: int = 4096, nprobe: int = 12, seed: int = 0, max_train_sample: int = 20_000
    ) -> None:
        self.dim = dim
        self.train_at = train_at
        self.nprobe = nprobe
        self.max_train_sample = max_train_sample
        self._rng = np.random.default_rng(seed)
        self._centroids: np.ndarray | None = None
        self._cells: list[_Cell] = [_Cell(dim)]
        self._where: dict[str, tuple[int, int]] = {}
        self._next_training = train_at

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, entry_id: str) -> bool:
        return entry_id in self._where

    @property
    def cells(self) -> int:
        return len(self._cells)

    def add(self, entry_id: str, vector: np.ndarray) -> None:
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.dim:
            raise ValueError(f"vector has {vector.shape[0]} dimensions, index has {self.dim}")
        if entry_id in self._where:
            self.remove(entry_id)
        cell = 0 if self._centroids is None else int(np.argmax(self._centroids @ vector))
        self._where[entry_id] = (cell, self._cells[cell].append(entry_id, vector))
        if len(self._where) >= self._next_training:
            self._train()

    def remove(self, entry_id: str) -> bool:
        location = self._where.pop(entry_id, None)
        if location is None:
            return False
        cell, position = location
        moved = self._cells[cell].remove_at(position)
        if moved is not None:
            self._where[moved] = (cell, position)
        return True

    def get(self, entry_id: str) -> np.ndarray | None:
        """The stored vector of an entry (a view: do not modify it), or None."""
        location = self._where.get(entry_id)
        if location is None:
            return None
        cell, position = location
        vector: np.ndarray = self._cells[cell].vectors[position]
        return vector

    def search(self, vector: np.ndarray, k: int = 1, min_score: float = -1.0) -> list[VectorMatch]:
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if self._centroids is None:
            probe = [0]
        else:
            nprobe = min(self.nprobe, len(self._cells))
            scores = np.einsum("ij,j->i", self._centroids, query)
            probe = np.argpartition(-scores, nprobe - 1)[:nprobe].tolist()
        best: list[tuple[float, str]] = []
        for index in probe:
            cell = self._cells[index]
            if cell.count == 0:
                continue
            scores = np.einsum("ij,j->i", cell.vectors[: cell.count], query)
            above = np.flatnonzero(scores >= min_score)  # usually empty or tiny: no sort over the cell
            if len(above) > k:
                above = above[np.argpartition(-scores[above], k - 1)[:k]]
            best.extend((float(scores[i]), cell.ids[i]) for i in above)
        best.sort(key=lambda item: -item[0])
        return [VectorMatch(entry_id, score) for score, entry_id in best[:k]]

    def _all(self) -> tuple[list[str], np.ndarray]:
        ids = [i for cell in self._cells for i in cell.ids]
        vectors = (
            np.concatenate([cell.vectors[: cell.count] for cell in self._cells]) if ids else np.empty((0, self.dim))
        )
        return ids, vectors.astype(np.float32, copy=False)

    def _train(self) -> None:
        ids, vectors = self._all()
        count = len(ids)
        cells = max(16, int(2 * math.sqrt(count)))
        sample = vectors
        if count > self.max_train_sample:
            sample = vectors[self._rng.choice(count, size=self.max_train_sample, replace=False)]
        centroids = _kmeans(sample, min(cells, len(sample)), iterations=6, rng=self._rng)
        assignment = np.empty(count, dtype=np.int64)
        for start in range(0, count, 8192):
            assignment[start : start + 8192] = np.argmax(vectors[start : start + 8192] @ centroids.T, axis=1)
        self._centroids = centroids
        self._cells = [
            _Cell(self.dim, capacity=max(64, int(n * 1.5))) for n in np.bincount(assignment, minlength=len(centroids))
        ]
        self._where = {}
        for entry_id, vector, cell in zip(ids, vectors, assignment, strict=True):
            self._where[entry_id] = (int(cell), self._cells[cell].append(entry_id, vector))
        self._next_training = 2 * count
