"""Near-duplicate detection for training examples: normalised text, SimHash and LSH bands.

Two examples whose (question + answer) texts differ only in case, whitespace or punctuation share
the same ``exact_key``; texts that differ in a word or two have SimHash fingerprints within a few
bits. The 64-bit fingerprint is split into four 16-bit bands; two fingerprints within 3 bits of
each other always share at least one band, so candidates are found with an "array contains" query
on the ``lsh`` field and confirmed by Hamming distance.
"""

from __future__ import annotations

import hashlib
import re

BANDS = 4
BAND_BITS = 16
NEAR_DUPLICATE_BITS = 3
_WORDS = re.compile(r"\w+", re.UNICODE)


def normalise(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def exact_key(text: str) -> str:
    return hashlib.sha256(normalise(text).encode()).hexdigest()[:32]


def simhash(text: str, shingle: int = 3) -> int:
    words = normalise(text).split()
    grams = [" ".join(words[i : i + shingle]) for i in range(max(1, len(words) - shingle + 1))] or [""]
    weights = [0] * 64
    for gram in grams:
        value = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "big")
        for bit in range(64):
            weights[bit] += 1 if value >> bit & 1 else -1
    return sum(1 << bit for bit, weight in enumerate(weights) if weight > 0)


def lsh_bands(fingerprint: int) -> list[str]:
    mask = (1 << BAND_BITS) - 1
    return [f"{band}:{fingerprint >> (band * BAND_BITS) & mask:04x}" for band in range(BANDS)]


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def is_near_duplicate(a: int, b: int) -> bool:
    return hamming(a, b) <= NEAR_DUPLICATE_BITS
