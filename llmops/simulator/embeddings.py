"""Deterministic embeddings whose cosine similarity reflects shared wording.

Each text becomes a signed feature-hashing vector over three feature families, each family scaled
to unit length before they are added so that no family dominates by count:

- word stems (weight 1.0): "prices" and "price" are one feature;
- word bigrams (0.5): word order and phrases ("out of stock" vs "in stock");
- character trigrams of each word, with word boundaries (0.4): misspellings and inflections.

Stop words are left out, so two texts share features only when they share content. The same text
always gives the same vector; paraphrases that reuse words land close, unrelated texts near 0.
This is what lets retrieval and the semantic cache be exercised locally against the simulator
(``LLMOPS_EMBEDDINGS=azure`` pointed at it); it is no substitute for a trained model's semantics.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from functools import lru_cache

from shared.grounding.text import stem

_WORD = re.compile(r"\w+")
_STOP = frozenset(
    "a an the is are was were be been to of and or in on at for with by from as it its this that these those "
    "i you he she we they my your our their me us do does did can could would should will shall may might "
    "what which who whom how when where why please".split()
)
FAMILY_WEIGHTS = (1.0, 0.5, 0.4)


@lru_cache(maxsize=65_536)
def _slot(feature: str, dimensions: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    return int.from_bytes(digest[:6], "big") % dimensions, (1.0 if digest[7] & 1 else -1.0)


def features(text: str) -> tuple[list[str], list[str], list[str]]:
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
    stems = [stem(w) for w in words]
    bigrams = [f"{a} {b}" for a, b in itertools.pairwise(stems)]
    trigrams = [f"#{padded[i:i + 3]}" for w in words for padded in [f"<{w}>"] for i in range(len(padded) - 2)]
    return stems, bigrams, trigrams


def embedding(text: str, dimensions: int) -> list[float]:
    """A unit vector of ``dimensions`` floats for ``text``."""
    vector = [0.0] * dimensions
    families = features(text)
    if not any(families):
        families = ([text.strip().lower() or "<empty>"], [], [])
    for weight, family in zip(FAMILY_WEIGHTS, families, strict=True):
        if not family:
            continue
        part: dict[int, float] = {}
        for feature in family:
            index, sign = _slot(feature, dimensions)
            part[index] = part.get(index, 0.0) + sign
        norm = math.sqrt(sum(v * v for v in part.values())) or 1.0
        for index, value in part.items():
            vector[index] += weight * value / norm
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]
