"""Groundedness: how well each answer sentence is supported by the supplied context, without an LLM.

For every answer sentence the scorer measures, against the context (never against an LLM):

- ``unsupported_names``: the share of its names and numbers (capitalised words outside headline-style
  sentences, acronyms, figures, prices, dates, words with digits such as model numbers) that appear
  nowhere in the context: an invented detail is the strongest sign;
- ``content_gap``: the share of its content words the context does not contain;
- ``off_evidence``: the share of the words it adds beyond the question that do not occur in the
  context sentences about the question's subject (right words, wrong place);
- ``restated``: the share of its content words that only restate the question, so that the few
  words that carry the claim must stand on the evidence alone;
- ``contradiction``: against the context sentence sharing most of its words, a negation present on
  one side only, an antonym swap (``increased``/``decreased``) or a different number.

A logistic combination (weights fitted once on HaluEval-style QA, see the README) turns these into
a score in 0..1, higher = less grounded; the answer's score is its worst sentence's. Every feature is
a proportion or a match, so the score does not grow with the answer's length.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from shared.guardrails.text import split_sentences, valid_unicode

_TOKEN = re.compile(r"\$?\d[\d,]*(?:\.\d+)?%?|[A-Za-zÀ-ÖØ-öø-ÿ][\w'’-]*")
_NUMBER = re.compile(r"^\$?\d[\d,]*(?:\.\d+)?%?$")
# a token's letter runs and digit runs ("COVID-19" -> covid, 19; "azd1222" -> azd, 1222)
_PIECE = re.compile(r"[^\W\d_]+|\d+")
_STOP = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being it its this that
    these those there their they them he she his her him i you your we our us my me not no yes do does did done
    has have had having will would can could should may might must shall than then so such also which who whom
    whose what when where why how all any some each every both either neither one ones into over under about
    after before between during while up down out off again further once here very more most other same own only
    just too s t don now known called named including include includes well many much""".split()
)
_NEGATIONS = frozenset(
    "not no never none nobody nothing neither nor cannot can't isn't wasn't aren't weren't "
    "doesn't don't didn't won't wouldn't hasn't haven't hadn't without".split()
)
# Words that turn a statement's polarity like a negation does ("unable" = "not able"). Words with an
# antonym in _ANTONYMS ("closed"/"open") are left to the antonym check, so that the two never cancel.
_NEGATIVE_POLARITY = frozenset("lacks lack absent fails failed forbidden impossible unable refused".split())
_PHRASES = (("out of stock", "unavailable"), ("sold out", "unavailable"), ("not in stock", "unavailable"),
            ("in stock", "available"), ("no longer", "not"), ("no charge", "free"), ("free of charge", "free"))
_PRICE_WORDS = frozenset("fee fees charge charged cost costs price priced pay paid euros dollars pounds".split())
_CLAUSE = re.compile(r",?\s+(?:and|but|while|whereas|although|though|which|who)\s+|;\s*|,\s+(?=[a-z])")
_ANTONYMS = [
    ("increase", "decrease"),
    ("increased", "decreased"),
    ("rise", "fall"),
    ("rose", "fell"),
    ("higher", "lower"),
    ("more", "less"),
    ("larger", "smaller"),
    ("largest", "smallest"),
    ("before", "after"),
    ("first", "last"),
    ("earlier", "later"),
    ("older", "younger"),
    ("oldest", "youngest"),
    ("above", "below"),
    ("won", "lost"),
    ("win", "lose"),
    ("true", "false"),
    ("allowed", "prohibited"),
    ("accept", "reject"),
    ("accepted", "rejected"),
    ("included", "excluded"),
    ("available", "unavailable"),
    ("open", "closed"),
    ("north", "south"),
    ("east", "west"),
    ("male", "female"),
    ("maximum", "minimum"),
    ("approve", "deny"),
    ("approved", "denied"),
    ("success", "failure"),
    ("successful", "unsuccessful"),
    ("legal", "illegal"),
    ("positive", "negative"),
    ("safe", "unsafe"),
    ("same", "different"),
    ("born", "died"),
    ("start", "end"),
    ("started", "ended"),
    ("begin", "end"),
    ("gained", "lost"),
    ("added", "removed"),
    ("cheaper", "expensive"),
    ("free", "paid"),
]
_ANTONYM_OF = {a: b for a, b in _ANTONYMS} | {b: a for a, b in _ANTONYMS}


def _stem(word: str) -> str:
    word = word.lower().strip("'’")
    for suffix in ("'s", "’s", "ies", "ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _norm_number(token: str) -> str:
    return (
        token.replace(",", "").replace("$", "").rstrip("%").rstrip("0").rstrip(".")
        if "." in token
        else (token.replace(",", "").replace("$", "").rstrip("%"))
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


# Logistic weights: bias, restated, unsupported_names, off_evidence, content_gap, contradiction.
WEIGHTS = (-2.95, 3.2, 6.9, 2.0, 5.9, 3.0)
# Claim mode: bias, unsupported_names, content_gap (after paraphrase credit), contradiction.
CLAIM_WEIGHTS = (-2.5, 5.0, 4.0, 4.0)


def _closest_similarity(sentences: list[str], context_sentences: list[str]) -> list[float] | None:
    from shared.embeddings.memo import sentence_vectors

    vectors = sentence_vectors([valid_unicode(s) for s in sentences + context_sentences[:200]])
    answers, context = vectors[: len(sentences)], vectors[len(sentences) :]
    return [float(v) for v in (answers @ context.T).max(axis=1)]


class _Evidence:
    """The context (and question) indexed for fast look-ups."""

    def __init__(self, context: str, question: str | None) -> None:
        tokens = _TOKEN.findall(context)
        self.lower_text = context.lower()
        self.normalized = " ".join(self.lower_text.split())
        self.stems = {_stem(t) for t in tokens}
        self.numbers = {_norm_number(t) for t in tokens if _NUMBER.match(t)}
        self.pieces = set(_PIECE.findall(self.lower_text))
        self.sentences = [s.text for s in split_sentences(context)] or [context]
        self.sentence_stems = [{_stem(t) for t in _TOKEN.findall(s)} for s in self.sentences]
        # clauses: the unit a claim is compared with for contradictions
        self.clauses = [c for sentence in self.sentences for c in _CLAUSE.split(sentence) if c.strip()]
        self.clause_stems = [{_stem(t) for t in _TOKEN.findall(c) if t.lower() not in _STOP} for c in self.clauses]
        self.question_stems = {_stem(t) for t in _TOKEN.findall(question or "") if t.lower() not in _STOP}
        relevant = [s for s in self.sentence_stems if s & self.question_stems] if self.question_stems else []
        self.relevant_stems = set().union(*relevant) if relevant else self.stems

    def has_entity(self, token: str) -> bool:
        if _NUMBER.match(token):
            return _norm_number(token) in self.numbers or token.lower() in self.lower_text
        if _has_digit(token):  # "COVID-19" is supported by "covid‑19" or "COVID 19", not by "COVID-20"
            return all(piece in self.pieces for piece in _PIECE.findall(token.lower()))
        return token.lower() in self.lower_text or _stem(token) in self.stems


def _has_digit(token: str) -> bool:
    return any(c.isdigit() for c in token)


def specifics(tokens: list[str]) -> list[str]:
    """The tokens that name or quantify something: numbers, words with digits (model numbers, "COVID-19"),
    acronyms and capitalised words. In a headline-style sentence (most words capitalised) a capital says
    nothing, so there only numbers, words with digits and acronyms count."""
    content = [t for t in tokens if t.lower() not in _STOP]
    words = [t for t in content if t[0].isalpha()]
    headline = len(words) >= 4 and sum(t[0].isupper() for t in words) >= 0.6 * len(words)
    return [
        t
        for t in content
        if _NUMBER.match(t) or _has_digit(t) or (len(t) > 1 and t.isupper()) or (t[0].isupper() and not headline)
    ]


class GroundednessScorer:
    """Two modes, as Azure's groundedness detection has: question answering (a question is given: the
    answer should be extractive) and claims/summaries (no question: paraphrase is expected, so meaning
    similarity to the closest context sentence offsets missing words, and contradictions decide)."""

    def __init__(self, use_embeddings: bool = True) -> None:
        self.use_embeddings = use_embeddings

    def score(self, answer: str, context: str, question: str | None = None) -> tuple[float, list[SentenceSupport]]:
        if not answer.strip():
            return 0.0, []
        if not context.strip():
            return 1.0, []
        evidence = _Evidence(context, question)
        sentences = split_sentences(answer)
        similarity = None
        if not question and self.use_embeddings:
            similarity = _closest_similarity([s.text for s in sentences], evidence.sentences)
        supports = [
            self._sentence(s.text, s.start, s.end, evidence, None if similarity is None else similarity[i])
            for i, s in enumerate(sentences)
        ]
        return max(s.score for s in supports), supports

    def _sentence(
        self, text: str, start: int, end: int, evidence: _Evidence, similarity: float | None = None
    ) -> SentenceSupport:
        tokens = _TOKEN.findall(text)
        content = [t for t in tokens if t.lower() not in _STOP]
        if not content:
            return SentenceSupport(start, end, 0.0, 0, 0, 0.0, 0.0)
        if len(content) >= 2 and " ".join(text.lower().split()).rstrip(".!?") in evidence.normalized:
            # said word for word in the context (an extractive answer): supported, whatever a similar
            # sentence of another document says
            return SentenceSupport(start, end, 0.0, 0, 0, 0.0, 0.0)
        stems = [_stem(t) for t in content]
        names = specifics(tokens)
        first = tokens[0]
        if similarity is not None and names and names[0] is first and not first.isupper() and not _has_digit(first):
            names = names[1:]  # claim mode: a capital at the start of a sentence is not a name by itself
        missing = [t for t in names if not evidence.has_entity(t)]
        missing_numbers = sum(bool(_NUMBER.match(t)) for t in missing)
        restated = sum(s in evidence.question_stems for s in stems) / len(stems)
        added = [s for s in stems if s not in evidence.question_stems]
        off_evidence = sum(s not in evidence.relevant_stems for s in added) / len(added) if added else 0.0
        content_gap = sum(s not in evidence.stems for s in stems) / len(stems)
        contradiction = self._contradiction(tokens, evidence)
        missing_share = len(missing) / len(names) if names else 0.0
        if similarity is not None:  # claim mode: a close paraphrase explains away missing words
            paraphrase = min(1.0, max(0.0, (similarity - 0.45) / 0.3))
            bias, w_names, w_gap, w_contra = CLAIM_WEIGHTS
            logit = bias + w_names * missing_share + w_gap * content_gap * (1 - paraphrase) + w_contra * contradiction
        else:
            bias, w_restated, w_names, w_off, w_gap, w_contra = WEIGHTS
            logit = (
                bias
                + w_restated * restated
                + w_names * missing_share
                + w_off * off_evidence
                + w_gap * content_gap
                + w_contra * contradiction
            )
        score = 1.0 / (1.0 + math.exp(-logit))
        return SentenceSupport(
            start, end, score, len(missing) - missing_numbers, missing_numbers, round(content_gap, 3), contradiction
        )

    @staticmethod
    def _contradiction(tokens: list[str], evidence: _Evidence) -> float:
        """Polarity, antonym, price, number or name mismatch against the context clauses sharing most content
        words (when several match equally well, any of them contradicting counts)."""
        stems = {_stem(t) for t in tokens if t.lower() not in _STOP}
        if not stems or not evidence.clauses:
            return 0.0
        overlaps = [len(stems & c) for c in evidence.clause_stems]
        top = max(overlaps)
        if top < max(1, math.ceil(0.3 * len(stems))):
            return 0.0
        lowered = _phrases([t.lower() for t in tokens])
        return max(_clause_conflict(tokens, lowered, _TOKEN.findall(evidence.clauses[i]), top)
                   for i, overlap in enumerate(overlaps) if overlap == top)


def _phrases(lowered: list[str]) -> list[str]:
    """Multi-word polarity phrases as one token ("out of stock" -> "unavailable")."""
    text = " ".join(lowered)
    for phrase, token in _PHRASES:
        text = text.replace(phrase, token)
    return text.split()


def _clause_conflict(tokens: list[str], lowered: list[str], clause_tokens: list[str], overlap: int) -> float:
    clause_lower = _phrases([t.lower() for t in clause_tokens])
    clause_set = set(clause_lower)
    claim_set = set(lowered)
    signal = 0.0
    flips = _polarity(lowered) != _polarity(clause_lower)
    antonym = any(_ANTONYM_OF.get(t) in clause_set and t not in clause_set for t in lowered)
    if flips != antonym:  # a negation and an antonym cancel out ("not open" = "closed")
        signal += 1.0
    answer_numbers = {_norm_number(t) for t in tokens if _NUMBER.match(t)}
    context_numbers = {_norm_number(t) for t in clause_tokens if _NUMBER.match(t)}
    if answer_numbers and context_numbers and not answer_numbers & context_numbers:
        signal += 1.0
    if "free" in claim_set and "free" not in clause_set and (context_numbers or clause_set & _PRICE_WORDS):
        signal += 1.0  # "free" where the evidence names a price or a fee
    # a name where the matching clause has a different one ("Lyon is the capital" vs "Paris is the capital")
    claim_names = {t.lower() for t in tokens if t[0].isupper() and t.lower() not in _STOP} - clause_set
    clause_names = {t.lower() for t in clause_tokens if t[0].isupper() and t.lower() not in _STOP} - claim_set
    if claim_names and clause_names and overlap >= 2:
        signal += 0.75
    return min(signal, 1.0)


def _polarity(lowered: list[str]) -> bool:
    count = sum(t in _NEGATIONS or t.endswith("n't") or t in _NEGATIVE_POLARITY for t in lowered)
    return count % 2 == 1
