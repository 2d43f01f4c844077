"""What a check finds and what the pipeline decides: plain dataclasses, safe to log.

A ``Finding`` is a detector's raw result on one text. A ``Verdict`` is the policy's decision about
it (threshold and action applied). ``Verdict.to_record()`` is what goes to the request log and
telemetry: check, stage, score, action, span types and offsets, never the matched text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    BLOCK = "block"  # refuse: 400 on input, 422 on output, an error event in a stream
    REDACT = "redact"  # replace the spans with typed placeholders and go on
    FLAG = "flag"  # allow, but record


class Stage(StrEnum):
    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True, slots=True)
class Span:
    type: str
    start: int
    end: int

    def to_record(self) -> dict[str, Any]:
        return {"type": self.type, "start": self.start, "end": self.end}


@dataclass(slots=True)
class Finding:
    """A detector's result on one text: score in 0..1 (higher = more likely a violation)."""

    score: float
    spans: list[Span] = field(default_factory=list)
    # Non-sensitive facts for the log: reason codes, counts, product ids. Never matched text.
    detail: dict[str, Any] = field(default_factory=dict)
    source: str = "local"  # local | azure


@dataclass(slots=True)
class Verdict:
    check: str
    stage: Stage
    score: float
    threshold: float
    action: Action
    triggered: bool
    spans: list[Span] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    source: str = "local"
    target: str = "text"  # which text: "message[2]", "context[0]", "answer", "sentence[4]"

    @property
    def blocks(self) -> bool:
        return self.triggered and self.action is Action.BLOCK

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "check": self.check,
            "stage": str(self.stage),
            "score": round(float(self.score), 4),
            "threshold": self.threshold,
            "action": str(self.action) if self.triggered else "pass",
            "target": self.target,
            "source": self.source,
        }
        if self.spans:
            record["spans"] = [span.to_record() for span in self.spans]
        if self.detail:
            record["detail"] = self.detail
        return record

    def error_message(self) -> str:
        """The client-facing reason for a block (names the check, never repeats the content)."""
        where = "request" if self.stage is Stage.INPUT else "response"
        return f"The {where} was blocked by the '{self.check}' guardrail (score {self.score:.2f} >= {self.threshold})."
