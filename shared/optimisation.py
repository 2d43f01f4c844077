"""Token optimisation per app (opt-in, section ``optimisation``); every step reports tokens saved.

Steps, in order, each enabled on its own::

    {"normalise_whitespace": true, "strip_boilerplate": true, "dedupe_context": true,
     "history_token_budget": 3000, "max_tokens_cap": 800}

- ``normalise_whitespace``: trailing spaces, runs of spaces/tabs inside lines and runs of blank lines
  collapse (indentation and everything inside ``` code fences is kept);
- ``strip_boilerplate``: lines that carry no content for the model go: "Sent from my iPhone",
  confidentiality disclaimers, "-- " signature blocks, quoted e-mail history ("On ... wrote:" and the
  ``>`` lines under it), and lines of 40-199 characters already present earlier in the conversation
  (repeated footers; longer repeats are documents, handled by ``dedupe_context``);
- ``dedupe_context``: a context document (a text part, or a paragraph of 200+ characters) that appears
  more than once is kept only in its newest place;
- ``history_token_budget``: the oldest turns are dropped until the conversation fits; system/developer
  messages and the last user turn (with what follows it) are never touched, and an assistant tool
  call is dropped together with its tool results;
- ``max_tokens_cap``: the request's ``max_tokens`` is capped (and set when the client sent none).

The request log gets ``optimisation``: ``tokens_before``, ``tokens_after`` and tokens saved per step.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.tokens import count_message_tokens, count_one_message

Messages = list[dict[str, Any]]
PROTECTED_ROLES = ("system", "developer")


class OptimisationPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    normalise_whitespace: bool = False
    strip_boilerplate: bool = False
    dedupe_context: bool = False
    history_token_budget: int | None = Field(default=None, ge=1)
    max_tokens_cap: int | None = Field(default=None, ge=1)

    @property
    def enabled(self) -> bool:
        return (self.normalise_whitespace or self.strip_boilerplate or self.dedupe_context
                or self.history_token_budget is not None or self.max_tokens_cap is not None)


# -- text transforms ---------------------------------------------------------------------------
_FENCE = re.compile(r"(```.*?(?:```|\Z))", re.DOTALL)
_INNER_SPACES = re.compile(r"(?<=\S)[ \t]{2,}")
_BLANK_RUNS = re.compile(r"\n{3,}")
_BOILERPLATE_LINE = re.compile(
    r"^\s*(sent from my \w+.*|get outlook for \w+.*|this (e-?mail|message) (and any attachments? )?(is|are|may be) "
    r"confidential.*|confidentiality notice.*|please consider the environment before printing.*|"
    r"disclaimer:.*|unsubscribe.*|view this email in your browser.*)$", re.IGNORECASE)
_QUOTE_HEADER = re.compile(r"^\s*(on .{5,120} wrote:|-{2,}\s*original message\s*-{2,}|from: .+ sent: .+)\s*$",
                           re.IGNORECASE)
_SIGNATURE = re.compile(r"^-- ?$")
_PARAGRAPH_SPLIT = re.compile(r"\n\s*\n")
MIN_DOCUMENT_CHARS = 200
MIN_REPEATED_LINE_CHARS = 40


def normalise_text(text: str) -> str:
    parts = _FENCE.split(text)
    for i in range(0, len(parts), 2):  # even parts are outside code fences
        lines = [_INNER_SPACES.sub(" ", line.rstrip()) for line in parts[i].split("\n")]
        parts[i] = _BLANK_RUNS.sub("\n\n", "\n".join(lines))
    return "".join(parts).strip()


def strip_boilerplate_text(text: str, seen_lines: set[str]) -> str:
    out: list[str] = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if _SIGNATURE.match(line) or _QUOTE_HEADER.match(line):
            break  # a signature block or quoted history: the rest of the text is not new content
        if _BOILERPLATE_LINE.match(line):
            index += 1
            continue
        footer_like = MIN_REPEATED_LINE_CHARS <= len(stripped) < MIN_DOCUMENT_CHARS
        if footer_like and stripped in seen_lines:
            index += 1
            continue
        if footer_like:
            seen_lines.add(stripped)
        out.append(line)
        index += 1
    return "\n".join(out).strip()


# -- message helpers ---------------------------------------------------------------------------
def _map_text(message: dict[str, Any], transform: Callable[[str], str]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, str):
        return {**message, "content": transform(content)}
    if isinstance(content, list):
        parts = [{**p, "text": transform(p["text"])} if isinstance(p, dict) and p.get("type") == "text"
                 and isinstance(p.get("text"), str) else p for p in content]
        return {**message, "content": parts}
    return message


def _last_user_index(messages: Messages) -> int:
    return max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=len(messages))


def _is_protected(messages: Messages, index: int, last_user: int) -> bool:
    return messages[index].get("role") in PROTECTED_ROLES or index >= last_user


def dedupe_documents(messages: Messages) -> Messages:
    """Keep each long text part / paragraph only in its newest place (protected messages first)."""
    last_user = _last_user_index(messages)
    seen: set[str] = set()
    order = sorted(range(len(messages)), key=lambda i: (not _is_protected(messages, i, last_user), -i))
    out = list(messages)
    for i in order:
        if _is_protected(messages, i, last_user):
            _collect(messages[i], seen)
            continue
        out[i] = _without_seen(messages[i], seen)
    return [m for m in out if m.get("content") not in ("", []) or m.get("tool_calls") or m.get("role") == "tool"]


def _documents(text: str) -> list[str]:
    return [p.strip() for p in _PARAGRAPH_SPLIT.split(text)]


def _collect(message: dict[str, Any], seen: set[str]) -> None:
    content = message.get("content")
    texts = [content] if isinstance(content, str) else [p.get("text", "") for p in content or []
                                                        if isinstance(p, dict) and p.get("type") == "text"]
    for text in texts:
        key = " ".join(text.split())
        if len(key) >= MIN_DOCUMENT_CHARS:
            seen.add(key)
        for paragraph in _documents(text):
            if len(paragraph) >= MIN_DOCUMENT_CHARS:
                seen.add(" ".join(paragraph.split()))


def _without_seen(message: dict[str, Any], seen: set[str]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, list):
        kept = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                key = " ".join(str(part.get("text", "")).split())
                if len(key) >= MIN_DOCUMENT_CHARS and key in seen:
                    continue
                part = {**part, "text": _drop_seen_paragraphs(part.get("text", ""), seen)}
            kept.append(part)
        _collect({"content": kept}, seen)
        return {**message, "content": kept}
    if isinstance(content, str):
        new = _drop_seen_paragraphs(content, seen)
        _collect({"content": new}, seen)
        return {**message, "content": new}
    return message


def _drop_seen_paragraphs(text: str, seen: set[str]) -> str:
    paragraphs = _PARAGRAPH_SPLIT.split(text)
    kept = [p for p in paragraphs if len(p.strip()) < MIN_DOCUMENT_CHARS or " ".join(p.split()) not in seen]
    return "\n\n".join(kept) if len(kept) != len(paragraphs) else text


def trim_history(messages: Messages, budget: int) -> Messages:
    """Drop the oldest unprotected turns (tool calls with their results) until the conversation fits."""
    last_user = _last_user_index(messages)
    units: list[list[int]] = []
    for i, message in enumerate(messages):
        if _is_protected(messages, i, last_user):
            continue
        if message.get("role") == "tool" and units and messages[units[-1][-1]].get("role") in ("assistant", "tool") \
                and any(messages[j].get("tool_calls") for j in units[-1]):
            units[-1].append(i)
        else:
            units.append([i])
    sizes = {i: count_one_message(m) for i, m in enumerate(messages)}
    total = count_message_tokens(messages)
    dropped: set[int] = set()
    for unit in units:
        if total <= budget:
            break
        dropped.update(unit)
        total -= sum(sizes[i] for i in unit)
    return [m for i, m in enumerate(messages) if i not in dropped]


# -- the whole pass ----------------------------------------------------------------------------
def optimise(messages: Messages, body: dict[str, Any], policy: OptimisationPolicy) -> tuple[Messages, dict[str, Any]]:
    """Apply the enabled steps; return the new messages and the report for the request log.

    ``body`` is updated in place for the ``max_tokens`` cap; ``messages`` is not modified.
    """
    before = count_message_tokens(messages)
    current = before
    steps: dict[str, int] = {}

    def step(name: str, result: Messages) -> Messages:
        nonlocal current
        size = count_message_tokens(result)
        steps[name] = current - size
        current = size
        return result

    if policy.normalise_whitespace:
        messages = step("normalise_whitespace", [_map_text(m, normalise_text) for m in messages])
    if policy.strip_boilerplate:
        seen_lines: set[str] = set()
        messages = step("strip_boilerplate", [
            m if m.get("role") in PROTECTED_ROLES else _map_text(m, lambda t: strip_boilerplate_text(t, seen_lines))
            for m in messages])
    if policy.dedupe_context:
        messages = step("dedupe_context", dedupe_documents(messages))
    if policy.history_token_budget is not None:
        messages = step("trim_history", trim_history(messages, policy.history_token_budget))
    report: dict[str, Any] = {"tokens_before": before, "tokens_after": current, "steps": steps}
    if policy.max_tokens_cap is not None:
        field = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
        requested = body.get(field)
        if requested is None or requested > policy.max_tokens_cap:
            body[field] = policy.max_tokens_cap
            report["max_tokens"] = {"requested": requested, "capped_to": policy.max_tokens_cap}
    return messages, report
