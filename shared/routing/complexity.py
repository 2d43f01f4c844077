"""How hard is a chat request? A cheap, explainable score in [0, 1] from the request itself.

Each feature is a number in [0, 1] with a weight; the score combines them as a noisy-OR,
``1 - prod(1 - weight * feature)``, so any one strong feature can make a request hard on its own.
Features (names appear in the route reason):

- ``long``: tokens of the conversation (0 up to ~400 tokens, 1 from ~8,000, logarithmic);
- ``multi-turn``: conversation depth (user/assistant turns beyond the first exchange);
- ``code``: code fences, code-shaped lines, stack traces, programming vocabulary;
- ``math``: equations, numbers with operators, quantitative vocabulary (solve, prove, probability...);
- ``reasoning``: analysis cues (why, compare, trade-offs, root cause, step by step, plan, design...);
- ``instructions``: many constraints (numbered/bulleted lines, must/exactly/at least, output formats);
- ``long-output``: a large ``max_tokens`` or a request for a detailed/long document;
- ``tools``: tool definitions offered to the model.

A request whose last user turn is a greeting, thanks or a yes/no style one-liner gets ``simple``,
which lowers the score. No feature costs more than a regex pass over the text (~50 µs per KB).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from shared.tokens import message_text

_CODE_FENCE = re.compile(r"```")
_CODE_LINE = re.compile(
    r"^\s*(def |class |import |from \S+ import|function\b|const |let |var |public |private |#include|SELECT\b|"
    r"INSERT\b|UPDATE\b|CREATE TABLE|return\b|if\s*\(|for\s*\(|while\s*\(|\}|\{|<\w+[^>]*>|Traceback|"
    r"\w+\(.*\)\s*[;{:]?$)",
    re.MULTILINE | re.IGNORECASE)
# Vocabulary cues, one alternation per feature, matched in one pass over the lower-cased ask.
_CUE_WORDS = {
    "code": r"code|function|bug|debug|refactor|regex|regular expression|sql|query|python|javascript|typescript|"
            r"java|c\+\+|rust|golang|api endpoint|stack trace|exception|compile|unit tests?|algorithm|script|"
            r"json schema|kubernetes|docker|terraform|bicep|yaml|redis|react|hook|class|template|schema|database|"
            r"pipeline|in (?:go|rust|kotlin|swift|c#)",
    "math": r"calculate|compute|solve|prove|proof|derivative|integral|equation|probability|expected value|"
            r"variance|statistic\w*|regression|compound interest|amorti[sz]\w+|npv|irr|optimi[sz]e|percentage|"
            r"forecast|matrix|theorem",
    "reasoning": r"why|explain|analy[sz]e|analysis|compare|comparison|contrast|trade-?offs?|pros and cons|"
                 r"step[- ]by[- ]step|reason\w*|evaluate|assess\w*|strateg\w+|plan (?:a|an|for|how)|design|"
                 r"architect\w*|recommend\w*|implications?|root cause|hypothes\w+|critique|justify|diagnos\w+|"
                 r"prioriti[sz]e|negotiat\w+|risks?|decide|decision|what would happen|how would you|"
                 r"should (?:we|i)",
    "long_output": r"detailed|comprehensive|in[- ]depth|thorough|essay|report|proposal|white ?paper|article|"
                   r"long (?:report|document|article|answer|essay|e-?mail)|\d{3,} words|several paragraphs|"
                   r"chapter|documentation|specification|business case",
    "constraint": r"must|exactly|at least|at most|no more than|do not|don't|ensure|make sure|format|json|table|"
                  r"bullet|include|each|every|only|cite|sections?",
}
_CUES = re.compile(r"\b(?:" + "|".join(f"(?P<{name}>{words})" for name, words in _CUE_WORDS.items()) + r")\b")
_CONSTRAINT_WORDS = re.compile(r"\b(?:" + _CUE_WORDS["constraint"] + r")\b")
_EQUATION = re.compile(r"\d\s*[-+*/^=×÷]\s*\d|[a-z]\s*[=^]\s*\d|\b\d+(\.\d+)?\s*%")
_LIST_LINE = re.compile(r"^\s*(\d+[.)]|[-*•])\s+", re.MULTILINE)
_SIMPLE = re.compile(
    r"^\s*(hi|hello|hey|thanks|thank you|ok|okay|yes|no|good (morning|afternoon|evening)|bye|"
    r"what time|what is the|what's the|where is|when does|how much|how many|can i|do you|is there|"
    r"translate|spell|define|who is)\b", re.IGNORECASE)

WEIGHTS: dict[str, float] = {
    "long": 0.4,
    "multi-turn": 0.15,
    "code": 0.55,
    "math": 0.5,
    "reasoning": 0.45,
    "instructions": 0.3,
    "long-output": 0.4,
    "tools": 0.2,
}
SIMPLE_DISCOUNT = 0.15


@dataclass(slots=True)
class Complexity:
    score: float
    features: dict[str, float] = field(default_factory=dict)

    def reasons(self, limit: int = 3) -> list[str]:
        """The strongest contributing features, or what made the request look simple."""
        contributions = sorted(((WEIGHTS.get(k, 0) * v, k) for k, v in self.features.items()
                                if k in WEIGHTS and v > 0), reverse=True)
        strong = [name for value, name in contributions if value >= 0.05][:limit]
        if strong:
            return strong
        out = ["short" if self.features.get("long", 0) < 0.2 else "medium-length"]
        if self.features.get("simple"):
            out.append("simple")
        if not self.features.get("code"):
            out.append("no-code")
        return out


def _saturate(value: float, full: float) -> float:
    """0 at 0, 1 at ``full`` and beyond (linear)."""
    return min(max(value / full, 0.0), 1.0)


def _hits(pattern: re.Pattern[str], text: str, full: int) -> float:
    return _saturate(sum(1 for _ in pattern.finditer(text)), full)


_PARAGRAPHS = re.compile(r"\n\s*\n")
_LABEL = re.compile(r"^[\w /-]{2,40}:$")


def ask_text(text: str) -> str:
    """The part of a user turn that asks: without quoted e-mail history and labelled context blocks.

    A paragraph that is only a label (``Context:``, ``Knowledge base:``) introduces supplied material;
    that material is what the model reads, not what makes the task hard, so its cues do not count.
    """
    kept: list[str] = []
    skip_next = False
    for paragraph in _PARAGRAPHS.split(text):
        lines = [line for line in paragraph.split("\n") if not line.lstrip().startswith(">")]
        block = "\n".join(lines).strip()
        if skip_next:
            skip_next = False
            continue
        if _LABEL.match(block):
            skip_next = True
            continue
        if block:
            kept.append(block)
    return "\n\n".join(kept)


def _cue_counts(text: str) -> dict[str, int]:
    counts = dict.fromkeys(_CUE_WORDS, 0)
    for match in _CUES.finditer(text):
        counts[match.lastgroup or ""] = counts.get(match.lastgroup or "", 0) + 1
    return counts


@lru_cache(maxsize=1024)
def _system_constraints(system: str) -> int:
    """Constraint words of a system prompt (an app sends the same one on every request: counted once)."""
    return sum(1 for _ in _CONSTRAINT_WORDS.finditer(system.lower()))


def score_request(messages: Sequence[Mapping[str, Any]], *, prompt_tokens: int,
                  max_output_tokens: int | None = None, tools: Sequence[Any] | None = None) -> Complexity:
    """Score a request; ``prompt_tokens`` is the conversation's token count (computed once upstream)."""
    user_turns = [m for m in messages if m.get("role") == "user"]
    last_user = ask_text(message_text(user_turns[-1])) if user_turns else ""
    recent = "\n".join(message_text(m) for m in messages[-4:] if m.get("role") in ("user", "tool"))
    system = "\n".join(message_text(m) for m in messages if m.get("role") in ("system", "developer"))
    conversation_turns = sum(1 for m in messages if m.get("role") in ("user", "assistant"))
    features: dict[str, float] = {}
    # Small models read long contexts well: length only counts from ~400 tokens, fully at ~8,000.
    features["long"] = _saturate(math.log(prompt_tokens / 400), math.log(8000 / 400)) if prompt_tokens > 400 else 0.0
    features["multi-turn"] = _saturate(conversation_turns - 4, 16)
    cues = _cue_counts(last_user.lower())
    code = 0.6 * _hits(_CODE_FENCE, recent, 2) + 0.4 * _hits(_CODE_LINE, recent, 4)
    features["code"] = min(code + 0.6 * _saturate(cues["code"], 2), 1.0)
    features["math"] = min(0.7 * _saturate(cues["math"], 1) + 0.5 * _hits(_EQUATION, last_user, 2), 1.0)
    features["reasoning"] = _saturate(cues["reasoning"], 2)
    constraints = _saturate(cues["constraint"] + _system_constraints(system), 5) * 0.6
    features["instructions"] = min(constraints + _hits(_LIST_LINE, last_user, 3) * 0.6, 1.0)
    long_output = _saturate(cues["long_output"], 1)
    if max_output_tokens:
        long_output = max(long_output, _saturate(max_output_tokens - 500, 3500))
    features["long-output"] = long_output
    features["tools"] = _saturate(len(tools or ()), 3)
    # noisy-OR: each feature alone can make a request hard; several together make it harder still
    remaining = 1.0
    for name, value in features.items():
        remaining *= 1.0 - WEIGHTS[name] * value
    score = 1.0 - remaining
    if _SIMPLE.match(last_user) and len(last_user) < 160:
        features["simple"] = 1.0
        score -= SIMPLE_DISCOUNT
    return Complexity(round(min(max(score, 0.0), 1.0), 3), {k: round(v, 3) for k, v in features.items() if v})
