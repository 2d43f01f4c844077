"""LLM-as-judge quality metric: a judge deployment rates each answer against the reference 1..5,
normalised to 0..1 (``judge`` in the evaluation report). Only used when a judge is configured."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

JUDGE_INSTRUCTIONS = (
    "You grade answers of a customer-support assistant. Compare the ANSWER with the REFERENCE answer "
    "for the same conversation. Score 5 if it is correct and complete, 4 if correct with minor gaps, "
    "3 if partly correct, 2 if mostly wrong, 1 if wrong, unsafe or off-topic. "
    'Reply with JSON only: {"score": <1-5>, "reason": "<one sentence>"}'
)
_SCORE = re.compile(r'"score"\s*:\s*([1-5](?:\.\d+)?)')


class JudgeError(RuntimeError):
    """The judge's reply had no usable score."""


def parse_score(content: str) -> float:
    """The 1..5 score from the judge's reply, normalised to 0..1."""
    try:
        value = float(json.loads(content)["score"])
    except (ValueError, KeyError, TypeError):
        match = _SCORE.search(content)
        if match is None:
            raise JudgeError(f"no score in judge reply: {content[:200]!r}") from None
        value = float(match.group(1))
    if not 1 <= value <= 5:
        raise JudgeError(f"judge score {value} outside 1..5")
    return (value - 1) / 4


class LlmJudge:
    def __init__(self, client, *, model: str):
        self.client, self.model = client, model

    def score(self, messages: Sequence[dict[str, str]], reference: str, answer: str) -> float:
        conversation = "\n".join(f"{m['role'].upper()}: {m['content']}" for m in messages)
        response = self.client.chat.completions.create(
            model=self.model,
            temperature=0,
            max_tokens=100,
            messages=[
                {"role": "system", "content": JUDGE_INSTRUCTIONS},
                {"role": "user", "content": f"{conversation}\n\nREFERENCE: {reference}\n\nANSWER: {answer}"},
            ],
        )
        return parse_score(response.choices[0].message.content or "")
