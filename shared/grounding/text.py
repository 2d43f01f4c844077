"""Words for keyword search: lower-cased, stop words dropped, light suffix stemming.

The same analysis runs on chunks (the BM25 index) and on questions (the query and the reranker's
term coverage), so "refunds" finds "refund" and "shipping" finds "shipped"."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+(?:[.'’-][a-z0-9]+)*")
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    please tell know want need get got also may might must shall us""".split()
)


_DOUBLED = re.compile(r"([bdgmnprt])\1$")
_VOWEL = re.compile(r"[aeiouy]")


def stem(word: str) -> str:
    """A light English stemmer: plural and verb endings, a doubled final consonant, a final "e"
    ("prices", "priced", "price" -> "pric"; "shipping", "ships" -> "ship"; "batteries" -> "battery")."""
    word = word.lower()
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif (word.endswith("es") and word[-3] in "sxz") or word.endswith(("ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and _VOWEL.search(word[: -len(suffix)]):
            word = word[: -len(suffix)]
            word = word[:-1] if _DOUBLED.search(word) else word
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def terms(text: str) -> list[str]:
    """The searchable terms of ``text``, in order (repeats kept: BM25 counts them)."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
