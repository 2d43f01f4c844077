"""Near-duplicate detection for training examples: normalised text keys and MinHash with LSH bands.

Two examples whose (question + answer) texts differ only in case, whitespace or punctuation share the
same ``exact_key``. Near duplicates — a few words added or changed — are found by estimating the
Jaccard similarity of their word unigram + bigram sets with a 64-value MinHash signature; texts at or
above ``NEAR_DUPLICATE_JACCARD`` count as duplicates. Candidates come from 16 LSH bands of 4 values:
two texts with Jaccard 0.8 share a band with probability 1 - (1 - 0.8^4)^16 > 0.999, texts with
Jaccard 0.4 with probability ~0.34, and every candidate is confirmed on the full signature.

``DatasetIndex`` keeps one dataset's keys and signatures in memory (loaded from the examples once per
process; feedback for a tenant is curated by one instance at a time, as the change feed leases
partitions), so a lookup costs no store round trip.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

SIGNATURE_SIZE = 64
BAND_ROWS = 4
NEAR_DUPLICATE_JACCARD = 0.8
_PRIME = (1 << 31) - 1  # a < p and h < p keep a * h + b below 2**63: exact in uint64
_SEED = 20261128  # fixed: signatures must be comparable across processes and runs
_WORDS = re.compile(r"\w+", re.UNICODE)


def normalise(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def exact_key(text: str) -> str:
    return hashlib.sha256(normalise(text).encode()).hexdigest()[:32]


def shingles(text: str) -> set[str]:
    words = normalise(text).split()
    return set(words) | {f"{a} {b}" for a, b in itertools.pairwise(words)} or {""}


@functools.cache
def _permutations() -> tuple[Any, Any, Any]:  # (numpy, a, b): numpy is imported here, not at module top
    import numpy as np  # numpy stays out of the function app's import (cold start)

    rng = np.random.default_rng(_SEED)
    return (np, rng.integers(1, _PRIME, SIGNATURE_SIZE, dtype=np.uint64),
            rng.integers(0, _PRIME, SIGNATURE_SIZE, dtype=np.uint64))


def minhash(text: str) -> list[int]:
    np, a, b = _permutations()
    hashes = np.fromiter(
        (int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big") % _PRIME
         for s in shingles(text)), dtype=np.uint64)
    permuted = (a[:, None] * hashes[None, :] + b[:, None]) % np.uint64(_PRIME)  # (64, shingles)
    return [int(v) for v in permuted.min(axis=1)]


def bands(signature: list[int]) -> list[str]:
    return [hashlib.blake2b(repr(signature[i : i + BAND_ROWS]).encode(), digest_size=8).hexdigest()
            + f":{i // BAND_ROWS}" for i in range(0, len(signature), BAND_ROWS)]


def jaccard(a: list[int], b: list[int]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


class DatasetIndex:
    """Exact keys and MinHash bands of one dataset's examples."""

    def __init__(self, examples: Iterable[dict[str, Any]]) -> None:
        self.exact: dict[str, str] = {}
        self.signatures: dict[str, list[int]] = {}
        self.buckets: dict[str, set[str]] = defaultdict(set)
        for example in examples:
            if example.get("minhash") and example.get("exact_key"):
                self.add(example["id"], example["exact_key"], example["minhash"])

    def add(self, example_id: str, key: str, signature: list[int]) -> None:
        self.exact[key] = example_id
        self.signatures[example_id] = signature
        for band in bands(signature):
            self.buckets[band].add(example_id)

    def remove(self, example_id: str) -> None:
        signature = self.signatures.pop(example_id, None)
        self.exact = {k: v for k, v in self.exact.items() if v != example_id}
        for band in bands(signature) if signature else ():
            self.buckets[band].discard(example_id)

    def duplicate_of(self, example_id: str, key: str, signature: list[int]) -> str | None:
        """The id of an existing example this one duplicates, if any."""
        same = self.exact.get(key)
        if same is not None and same != example_id:
            return same
        candidates = set().union(*(self.buckets.get(band, ()) for band in bands(signature)))
        for other in candidates - {example_id}:
            if jaccard(signature, self.signatures[other]) >= NEAR_DUPLICATE_JACCARD:
                return other
        return None
