"""Groundedness: how well each answer sentence is supported by the supplied context, without an LLM.

For every answer sentence the scorer looks for evidence in the context (and the question, which the
answer may restate):

- names and numbers: a capitalised name, a number, a price or a date in the answer that appears
  nowhere in the context is the strongest sign of an invented detail (``unsupported_entities``);
- content words: the share of the sentence's content words that the context does not contain;
- contradiction cues against the best-matching context sentence: a negation present on one side
  only, or an antonym swap (``increased``/``decreased``), or a number that differs;
- meaning: cosine similarity (all-MiniLM-L6-v2) between the sentence and its closest context sentence.

Each sentence gets a score in 0..1 (higher = less grounded); the answer's score is its worst
sentence's. Scores depend on proportions and matches, never on how long the answer is.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from shared.guardrails.text import split_sentences

_TOKEN = re.compile(r"\$?\d[\d,]*(?:\.\d+)?%?|[A-Za-zÀ-ÖØ-öø-ÿ][\w'’-]*")
_NUMBER = re.compile(r"^\$?\d[\d,]*(?:\.\d+)?%?$")
_STOP = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being it its this that
    these those there their they them he she his her him i you your we our us my me not no yes do does did done
    has have had having will would can could should may might must shall than then so such also which who whom
    whose what when where why how all any some each every both either neither one ones into over under about
    after before between during while up down out off again further once here very more most other same own only
    just too s t don now known called named including include includes well many much""".split()
)
_NEGATIONS = frozenset("not no never none nobody nothing neither nor cannot can't isn't wasn't aren't weren't "
                       "doesn't don't didn't won't wouldn't hasn't haven't hadn't without".split())
_ANTONYMS = [
    ("increase", "decrease"), ("increased", "decreased"), ("rise", "fall"), ("rose", "fell"), ("higher", "lower"),
    ("more", "less"), ("larger", "smaller"), ("largest", "smallest"), ("before", "after"), ("first", "last"),
    ("earlier", "later"), ("older", "younger"), ("oldest", "youngest"), ("above", "below"), ("won", "lost"),
    ("win", "lose"), ("true", "false"), ("allowed", "prohibited"), ("accept", "reject"), ("accepted", "rejected"),
    ("included", "excluded"), ("available", "unavailable"), ("open", "closed"), ("north", "south"),
    ("east", "west"), ("male", "female"), ("maximum", "minimum"), ("approve", "deny"), ("approved", "denied"),
    ("success", "failure"), ("successful", "unsuccessful"), ("legal", "illegal"), ("positive", "negative"),
    ("safe", "unsafe"), ("same", "different"), ("born", "died"), ("start", "end"), ("started", "ended"),
    ("begin", "end"), ("gained", "lost"), ("added", "removed"), ("cheaper", "expensive"), ("free", "paid"),
]
_ANTONYM_OF = {a: b for a, b in _ANTONYMS} | {b: a for a, b in _ANTONYMS}


def _stem(word: str) -> str:
    word = word.lower().strip("'’")
    for suffix in ("'s", "’s", "ies", "ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _norm_number(token: str) -> str:
    return token.replace(",", "").replace("$", "").rstrip("%").rstrip("0").rstrip(".") if "." in token else (
        token.replace(",", "").replace("$", "").rstrip("%")
    )


@dataclass(frozen=True)
class SentenceSupport:
    start: int
    end: int
    score: float
    unsupported_entities: int
    unsupported_numbers: int
    content_gap: float
    contradiction: float
    similarity: float | None


class _Evidence:
    """The context (and question) indexed for fast look-ups."""

    def __init__(self, context: str, question: str | None) -> None:
        source = f"{context}\n{question or ''}"
        tokens = _TOKEN.findall(source)
        self.lower_text = source.lower()
        self.stems = {_stem(t) for t in tokens}
        self.numbers = {_norm_number(t) for t in tokens if _NUMBER.match(t)}
        self.sentences = [s.text for s in split_sentences(context)] or [context]
        self.sentence_stems = [{_stem(t) for t in _TOKEN.findall(s)} for s in self.sentences]

    def has_entity(self, token: str) -> bool:
        return token.lower() in self.lower_text or _stem(token) in self.stems


class GroundednessScorer:
    def __init__(self, use_embeddings: bool = True) -> None:
        self.use_embeddings = use_embeddings

    def score(self, answer: str, context: str, question: str | None = None) -> tuple[float, list[SentenceSupport]]:
        if not answer.strip():
            return 0.0, []
        if not context.strip():
            return 1.0, []
        evidence = _Evidence(context, question)
        sentences = split_sentences(answer)
        similarities = self._similarities(sentences, evidence) if self.use_embeddings else None
        supports = []
        for i, sentence in enumerate(sentences):
            supports.append(self._sentence(sentence.text, sentence.start, sentence.end, evidence,
                                           None if similarities is None else similarities[i]))
        return max(s.score for s in supports), supports

    def _similarities(self, sentences: list, evidence: _Evidence) -> list[float] | None:
        try:
            from shared.embeddings.minilm import shared_encoder

            encoder = shared_encoder()
        except (FileNotFoundError, ImportError):
            return None
        vectors = encoder.encode([s.text for s in sentences] + evidence.sentences)
        answer_vectors, context_vectors = vectors[: len(sentences)], vectors[len(sentences) :]
        return [float(v) for v in (answer_vectors @ context_vectors.T).max(axis=1)]

    def _sentence(self, text: str, start: int, end: int, evidence: _Evidence, similarity: float | None) -> SentenceSupport:
        tokens = _TOKEN.findall(text)
        entities = [t for i, t in enumerate(tokens) if t[0].isupper() and (i > 0 or t.lower() not in _STOP)
                    and t.lower() not in _STOP and not _NUMBER.match(t)]
        numbers = [t for t in tokens if _NUMBER.match(t)]
        content = [t for t in tokens if t.lower() not in _STOP and not _NUMBER.match(t)]
        missing_entities = sum(not evidence.has_entity(t) for t in entities)
        missing_numbers = sum(_norm_number(t) not in evidence.numbers for t in numbers)
        missing_content = sum(_stem(t) not in evidence.stems for t in content)
        content_gap = missing_content / len(content) if content else 0.0
        contradiction = self._contradiction(tokens, evidence)
        # Evidence combined as log-odds: each unsupported name or number is strong evidence on its own.
        logit = -2.2
        logit += 2.6 * min(missing_entities, 2) + 3.0 * min(missing_numbers, 2)
        logit += 3.0 * content_gap
        logit += 2.5 * contradiction
        if similarity is not None:
            logit += 4.0 * (0.55 - similarity)
        score = 1.0 / (1.0 + math.exp(-logit))
        return SentenceSupport(start, end, score, missing_entities, missing_numbers, round(content_gap, 3),
                               contradiction, None if similarity is None else round(similarity, 3))

    @staticmethod
    def _contradiction(tokens: list[str], evidence: _Evidence) -> float:
        """Negation or antonym mismatch against the context sentence sharing most content words."""
        stems = {_stem(t) for t in tokens if t.lower() not in _STOP}
        if not stems:
            return 0.0
        overlaps = [len(stems & s) for s in evidence.sentence_stems]
        best = int(np.argmax(overlaps))
        if overlaps[best] < max(2, math.ceil(0.4 * len(stems))):
            return 0.0
        best_tokens = [t.lower() for t in _TOKEN.findall(evidence.sentences[best])]
        lowered = [t.lower() for t in tokens]
        signal = 0.0
        if any(t in _NEGATIONS for t in lowered) != any(t in _NEGATIONS for t in best_tokens):
            signal += 1.0
        best_set = set(best_tokens)
        if any(_ANTONYM_OF.get(t) in best_set and t not in best_set for t in lowered):
            signal += 1.0
        answer_numbers = {_norm_number(t) for t in tokens if _NUMBER.match(t)}
        context_numbers = {_norm_number(t) for t in best_tokens if _NUMBER.match(t)}
        if answer_numbers and context_numbers and not answer_numbers & context_numbers:
            signal += 1.0
        return min(signal, 1.0)
