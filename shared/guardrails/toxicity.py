"""Toxicity / harmful content: a two-stage embedding classifier with categories plus an offensive-word lexicon.

The two-stage model (``cascade.py``, ``models/toxicity.json``) reads tone and intent and names the
categories (harassment, hate, sexual, violence, self-harm) whose own thresholds a text reaches;
the lexicon catches explicit slurs and profanity, also when disguised (``f*ck``, ``1d1ot``,
zero-width characters, look-alike letters). The score combines both as independent evidence:
``1 - (1 - head) * (1 - lexicon)``. Long texts are scored per window; the worst window counts.
"""

from __future__ import annotations

import re
from typing import Any

from shared.guardrails.cascade import WindowedHead
from shared.guardrails.prefilter import starting_at_first_chars
from shared.guardrails.text import SEGMENT_CHARS, canonical, segments

# Explicit profanity, slurs and insults (lower case, matched as whole words after de-obfuscation).
_STRONG = frozenset(
    """fuck fucking fucked fucker fuckers motherfucker motherfuckers fuckin fck fcking cunt cunts
    shit shitty bullshit asshole assholes arsehole dickhead dickheads bitch bitches bastard bastards
    whore whores slut sluts retard retards retarded faggot faggots fag fags nigger niggers nigga
    kike spic chink tranny twat twats wanker wankers prick pricks douche douchebag scumbag
    cocksucker dipshit jackass dumbass""".split()
)
_MILD = frozenset(
    """idiot idiots idiotic stupid moron morons moronic imbecile dumb loser losers pathetic worthless
    scum trash garbage disgusting hate hateful shut ugly fat pig pigs crap damn hell suck sucks
    incompetent clown clowns jerk jerks creep freak freaks coward cowards liar liars vandal nazi nazis
    kill die murder rape hang burn destroy""".split()
)
_THREAT = starting_at_first_chars(re.compile(
    r"(?i)\b(?:i(?:'ll| will| am going to|'m going to|'m gonna)|we(?:'ll| will)|gonna)\s+"
    r"(?:kill|hurt|find|beat|shoot|stab|rape|destroy|burn|end)\s+(?:you|u|ya|your|him|her|them)\b"
    r"|\b(?:kill|hang|shoot)\s+yourself\b|\bkys\b|\bgo\s+die\b|\bhope\s+you\s+die\b"
))
_LEET = str.maketrans({"@": "a", "4": "a", "0": "o", "1": "i", "!": "i", "3": "e", "$": "s", "5": "s", "7": "t"})
_WORD = re.compile(r"[a-z][a-z*@$!0-9]*[a-z*]|[a-z]")
_MASKED = re.compile(r"^[a-z]+\*+[a-z]*$")
_LEXICON = _STRONG | _MILD


def lexicon_score(text: str) -> tuple[float, dict[str, int]]:
    lowered = text.lower()
    strong = mild = threats = 0
    for start, piece in segments(lowered):
        own = SEGMENT_CHARS if start + SEGMENT_CHARS < len(lowered) else len(piece)  # the overlap is the next's
        translated = piece.translate(_LEET)
        # most texts hold no lexicon word and nothing masked: one set test instead of a loop over the words
        if "*" in translated or not _LEXICON.isdisjoint(_WORD.findall(translated)):
            strong, mild = _count_words(translated, lowered, start, own, strong, mild)
        threats += sum(1 for m in _THREAT.finditer(piece) if m.start() < own)
    score = 1.0 - (0.45 ** (strong + 2 * threats)) * (0.85**mild)
    return float(score), {"strong": strong, "mild": mild, "threats": threats}


def _count_words(translated: str, lowered: str, start: int, own: int, strong: int, mild: int) -> tuple[int, int]:
    """The strong and mild lexicon words of one segment (``translated``: its de-leeted text) added on."""
    for match in _WORD.finditer(translated):
        if match.start() >= own or (match.start() == 0 and start and lowered[start - 1].isalnum()):
            continue  # the next piece's, or the tail of a word the previous piece counted
        raw = match.group()
        word = raw.replace("*", "") if not _MASKED.match(raw) else raw
        if word in _STRONG or (_MASKED.match(raw) and _masked_hit(raw)):
            strong += 1
        elif word in _MILD:
            mild += 1
    return strong, mild


def _masked_hit(word: str) -> bool:
    pattern = re.compile("^" + re.escape(word).replace(r"\*", "[a-z]") + "$")
    return any(pattern.match(candidate) for candidate in _STRONG if len(candidate) == len(word))


class ToxicityDetector(WindowedHead):
    model_name = "toxicity"

    def score(self, text: str, *, full_for_one_window: bool = False) -> tuple[float, dict[str, Any]]:
        """``full_for_one_window``: a text of one window (up to ~600 characters) is judged by the
        transformer head whatever the cheap stage says (a user's turn; see ``ToxicityCheck``)."""
        if not text.strip():
            return 0.0, {}
        clean = canonical(text)
        head, windows, scores = self.worst_window(clean, full_for_one_window=full_for_one_window)
        lexicon, counts = lexicon_score(clean)
        combined = 1.0 - (1.0 - head) * (1.0 - lexicon)
        detail: dict[str, Any] = {"model": round(head, 4), "lexicon": round(lexicon, 4), **counts, "windows": windows,
                                  "escalated": scores.escalated}
        categories = self.model.flagged_categories(scores)
        if categories:
            detail["categories"] = categories
        return combined, detail
