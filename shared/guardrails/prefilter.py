"""A cheap test that a pattern cannot match: the literal words one of which its every match begins with.

Most guardrail rules start with an alternation of words (``\\b(?:ignore|disregard|forget)\\s+...``).
``leading_literals(pattern)`` reads them off the compiled pattern's parse tree (lower-cased); a text
that contains none of them (as a substring of its lower-cased form) cannot match, so the scan skips
the pattern. Where a pattern's start is not such a set (a character class, an optional group, an
anchor at a line start, a single character) it returns None and the pattern always runs.
"""

from __future__ import annotations

import re
from typing import Any

try:  # the parser behind ``re.compile``; a Python without it simply gets no prefilter
    from re import _constants as _ops  # type: ignore[attr-defined]
    from re import _parser as _parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - CPython 3.11+ has both
    _ops = _parse = None

MIN_LITERAL = 2  # a one-character start filters nothing


def leading_literals(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    if _parse is None:
        return None
    try:
        found = _starts(_parse.parse(pattern.pattern, pattern.flags))
    except Exception:  # an unreadable tree only costs the prefilter
        return None
    if not found or min(len(s) for s in found) < MIN_LITERAL:
        return None
    return tuple(sorted({s.lower() for s in found}))


def may_match(literals: tuple[str, ...] | None, lowered: str) -> bool:
    return literals is None or any(literal in lowered for literal in literals)


def _starts(sequence: Any) -> set[str] | None:
    """The literal strings one of which every match of ``sequence`` starts with, or None."""
    items = list(sequence)
    i = 0
    while i < len(items) and items[i][0] is _ops.AT and items[i][1] in (_ops.AT_BOUNDARY, _ops.AT_NON_BOUNDARY):
        i += 1  # \b and \B consume nothing
    if i == len(items):
        return None
    op, argument = items[i]
    if op is _ops.LITERAL:
        text = ""
        while i < len(items) and items[i][0] is _ops.LITERAL:
            text += chr(items[i][1])
            i += 1
        return {text}
    if op is _ops.SUBPATTERN:
        return _starts(argument[3])
    if op is _ops.BRANCH:
        out: set[str] = set()
        for branch in argument[1]:
            starts = _starts(branch)
            if not starts:
                return None
            out |= starts
        return out
    return None
