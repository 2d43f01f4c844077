"""Topic adherence: is a prompt or answer about what the app is for (and not about a blocked topic)?

The app declares its allowed topics (and optionally blocked ones) as short descriptions, e.g.
``"billing, invoices and payments"``. Texts and topics are embedded with all-MiniLM-L6-v2; a text
whose best cosine similarity to every allowed topic stays under ``min_similarity`` is off-topic,
and one that comes within ``blocked_similarity`` of a blocked topic is on a blocked topic. Greetings
and thanks are always allowed, so "hi" is never off-topic.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from shared.guardrails.text import valid_unicode

SMALL_TALK = (
    "greeting, hello, hi, good morning",
    "thanks, thank you, goodbye, have a nice day",
    "asking who the assistant is or what it can help with",
)


class TopicDetector:
    def __init__(
        self,
        allowed: list[str],
        blocked: list[str] | None = None,
        *,
        min_similarity: float = 0.25,
        blocked_similarity: float = 0.35,
        allow_small_talk: bool = True,
    ) -> None:
        if not allowed and not blocked:
            raise ValueError("topics needs at least one allowed or blocked topic")
        self.allowed = list(allowed) + (list(SMALL_TALK) if allowed and allow_small_talk else [])
        self.blocked = list(blocked or [])
        self.min_similarity = min_similarity
        self.blocked_similarity = blocked_similarity
        self._vectors: tuple[np.ndarray, np.ndarray] | None = None
        self._lock = threading.Lock()

    def _topic_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        from shared.embeddings.memo import sentence_vectors

        with self._lock:
            if self._vectors is None:
                self._vectors = (sentence_vectors(self.allowed), sentence_vectors(self.blocked))
            return self._vectors

    def score(self, text: str) -> tuple[float, dict]:
        """0..1, higher = more off-topic; detail names the closest topic index and similarities."""
        if not text.strip():
            return 0.0, {}
        from shared.embeddings.memo import sentence_vectors

        allowed, blocked = self._topic_vectors()
        vector = sentence_vectors([valid_unicode(text[:2000])])[0]
        detail: dict = {}
        score = 0.0
        if len(allowed):
            similarities = allowed @ vector
            best = int(np.argmax(similarities))
            detail["allowed_similarity"] = round(float(similarities[best]), 4)
            detail["closest_allowed"] = best
            score = _logistic((self.min_similarity - float(similarities[best])) * 15)
        if len(blocked):
            similarities = blocked @ vector
            best = int(np.argmax(similarities))
            detail["blocked_similarity"] = round(float(similarities[best]), 4)
            blocked_score = _logistic((float(similarities[best]) - self.blocked_similarity) * 15)
            if blocked_score >= 0.5:
                detail["blocked_topic"] = best
            score = max(score, blocked_score)
        return score, detail


def _logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))
