"""Features of a question pair for the semantic-cache verifier.

Near-duplicate questions that mean different things usually differ in a content word that has no
counterpart on the other side: a name, a number, a negation, an added qualifier ("international
school" vs "school"). So besides the sentence cosine, the features count content words left
unmatched after exact (stemmed) matching and after synonym matching with word vectors, and note
number, capitalised-name, negation and question-word mismatches.

``word_vectors`` maps words to unit vectors (the verifier encodes single words with the same
sentence encoder); only words left unmatched lexically are looked up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

FEATURES = (
    "cosine",
    "unmatched_060",
    "unmatched_075",
    "unmatched_max_side",
    "negation_mismatch",
    "unmatched_min_similarity",
    "unmatched_mean_similarity",
    "content_difference_ratio",
    "content_length_difference",
    "unmatched_has_digit",
    "content_jaccard",
    "numbers_differ",
    "names_differ",
    "question_word_differs",
    "length_ratio",
)

_STOP = frozenset(
    "a an the is are was were be been being am do does did doing i me my mine myself we us our ours you your yours "
    "he him his she her hers it its they them their theirs what which who whom whose when where why how this that "
    "these those of in on at to for from by with about as into onto than then so and or but if can could should would "
    "will shall may might must have has had having there here some any just very also more most much many such one "
    "ones get got s t ve ll re d m really ever anyone someone something thing things way ways".split()
)
_NEGATIONS = frozenset("not no never nothing none nobody neither nor cannot without".split())
_QUESTION_WORDS = ("what", "why", "how", "when", "where", "who", "which", "whom", "whose")
_WORD = re.compile(r"[a-z0-9]+(?:[+#]+)?")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_DIGIT = re.compile(r"\d")
SYNONYM_STRICT = 0.75
SYNONYM_LOOSE = 0.60


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("n't", " not").replace("’", "'"))


def stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in _STOP]


def names(text: str) -> set[str]:
    found = _NAME.findall(text)
    return {w.lower() for w in found[1:] if w[0].isupper() and w.lower() not in _STOP}


def lexically_unmatched(a: str, b: str) -> tuple[list[str], list[str]]:
    """Content words of each side whose stem does not occur on the other side."""
    ca, cb = content_words(a), content_words(b)
    sa, sb = {stem(w) for w in ca}, {stem(w) for w in cb}
    return [w for w in ca if stem(w) not in sb], [w for w in cb if stem(w) not in sa]


def _best_matches(own: Sequence[str], other: Sequence[str], vectors: Callable[[str], np.ndarray]) -> list[float]:
    """For each unmatched word, its best similarity to the other side's unmatched words (numbers never match)."""
    candidates = [w for w in other if not _DIGIT.search(w)]
    if not own:
        return []
    if not candidates:
        return [0.0] * len(own)
    matrix = np.stack([vectors(w) for w in candidates])
    return [0.0 if _DIGIT.search(w) else float(np.max(matrix @ vectors(w))) for w in own]


def pair_features(a: str, b: str, cosine: float, vectors: Callable[[str], np.ndarray]) -> np.ndarray:
    ua, ub = lexically_unmatched(a, b)
    best_a, best_b = _best_matches(ua, ub, vectors), _best_matches(ub, ua, vectors)
    scores = best_a + best_b
    wa, wb = set(words(a)), set(words(b))
    ca, cb = content_words(a), content_words(b)
    sa, sb = {stem(w) for w in ca}, {stem(w) for w in cb}
    first_qa = next((w for w in words(a) if w in _QUESTION_WORDS), None)
    first_qb = next((w for w in words(b) if w in _QUESTION_WORDS), None)
    union = len(set(ca) | set(cb))
    values = (
        cosine,
        sum(s < SYNONYM_LOOSE for s in scores),
        sum(s < SYNONYM_STRICT for s in scores),
        max(sum(s < SYNONYM_LOOSE for s in best_a), sum(s < SYNONYM_LOOSE for s in best_b)),
        float(bool(_NEGATIONS & wa) != bool(_NEGATIONS & wb)),
        min((s for s in scores if s < SYNONYM_LOOSE), default=1.0),
        float(np.mean(scores)) if scores else 1.0,
        len(set(ca) ^ set(cb)) / union if union else 0.0,
        abs(len(ca) - len(cb)),
        float(any(_DIGIT.search(w) for w in ua + ub)),
        len(sa & sb) / len(sa | sb) if sa | sb else 1.0,
        float(set(_NUMBER.findall(a)) != set(_NUMBER.findall(b))),
        float(names(a) != names(b)),
        float(first_qa != first_qb),
        min(len(wa), len(wb)) / max(len(wa), len(wb), 1),
    )
    return np.asarray(values, dtype=np.float64)


def hard_mismatch(a: str, b: str) -> str | None:
    """A difference no paraphrase has: other numbers, or a negation on one side only. The verifier
    rejects such pairs whatever the model says (a year or an amount changes the answer)."""
    if set(_NUMBER.findall(a)) != set(_NUMBER.findall(b)):
        return "numbers differ"
    if bool(_NEGATIONS & set(words(a))) != bool(_NEGATIONS & set(words(b))):
        return "negation differs"
    return None


def unmatched_words(pairs: Sequence[tuple[str, str]]) -> set[str]:
    """Every word whose vector ``pair_features`` may ask for, for these pairs."""
    found: set[str] = set()
    for a, b in pairs:
        ua, ub = lexically_unmatched(a, b)
        if ua and ub:
            found.update(ua, ub)
    return found
