"""A cheap test that a pattern cannot match: the literal words one of which its every match begins with.

Most guardrail rules start with an alternation of words (``\\b(?:ignore|disregard|forget)\\s+...``).
``leading_literals(pattern)`` reads them off the compiled pattern's parse tree (lower-cased); a text
that contains none of them (as a substring of its lower-cased form) cannot match, so the scan skips
the pattern. Where a pattern's start is not such a set (a character class, an optional group, an
anchor at a line start, a single character) it returns None and the pattern always runs.

``starting_at_first_chars(pattern)`` is the same pattern behind a lookahead of the characters its
matches can start with (read off the same tree): the same matches, but the regex engine skips straight
to the positions where one can start instead of trying the pattern at every character (rules that
start with ``\b`` or a lookbehind).
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


_INLINE_FLAGS = re.compile(r"^\(\?[aiLmsux]+\)")  # carried by ``pattern.flags`` too
_MAX_RANGE = 128  # a wider character range in a pattern's first position leaves it as it is
# a class kept as it is written (every Unicode digit), beside the single characters; a start such as
# ``\w`` is left alone: nearly every position qualifies, and the lookahead would only cost
_CATEGORIES = {} if _ops is None else {_ops.CATEGORY_DIGIT: r"\d"}


def starting_at_first_chars(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """The same pattern behind a lookahead of the characters its matches can start with, when those are
    known (otherwise the pattern itself)."""
    if _parse is None:
        return pattern
    try:
        tree = list(_parse.parse(pattern.pattern, pattern.flags))
        firsts, empty = _firsts(tree)
    except Exception:  # an unreadable tree only costs the speed-up
        return pattern
    if not firsts or empty or not _opens_with_assertion(tree):  # the engine already skips to a literal start
        return pattern
    chars = "".join(c if c in _CATEGORIES.values() else re.escape(c) for c in sorted(firsts))
    return re.compile(f"(?=[{chars}])(?:{_INLINE_FLAGS.sub('', pattern.pattern)})", pattern.flags)


def _opens_with_assertion(sequence: Any) -> bool:
    """Whether every match starts with ``\b`` or a lookaround (where the engine tries every position)."""
    if not sequence:
        return False
    op, argument = sequence[0]
    if op in (_ops.AT, _ops.ASSERT, _ops.ASSERT_NOT):
        return True
    if op is _ops.SUBPATTERN:
        return _opens_with_assertion(list(argument[3]))
    if op is _ops.BRANCH:
        return all(_opens_with_assertion(list(branch)) for branch in argument[1])
    return False


def _firsts(sequence: Any) -> tuple[set[str] | None, bool]:
    """(the characters a match of ``sequence`` can start with or None for any, whether it can be empty)."""
    out: set[str] = set()
    for item in sequence:
        chars, empty = _item_firsts(*item)
        if chars is None:
            return None, False
        out |= chars
        if not empty:
            return out, False
    return out, True


def _item_firsts(op: Any, argument: Any) -> tuple[set[str] | None, bool]:
    if op is _ops.AT:
        return (set(), True) if argument in (_ops.AT_BOUNDARY, _ops.AT_NON_BOUNDARY) else (None, False)
    if op is _ops.LITERAL:
        return {chr(argument)}, False
    if op is _ops.IN:
        return _class_chars(argument), False
    if op is _ops.SUBPATTERN:
        return _firsts(argument[3])
    if op is _ops.BRANCH:
        out: set[str] = set()
        empty = False
        for branch in argument[1]:
            chars, branch_empty = _firsts(branch)
            if chars is None:
                return None, False
            out |= chars
            empty = empty or branch_empty
        return out, empty
    if op in (_ops.MAX_REPEAT, _ops.MIN_REPEAT, getattr(_ops, "POSSESSIVE_REPEAT", None)):
        chars, empty = _firsts(argument[2])
        return chars, empty or argument[0] == 0
    if op in (_ops.ASSERT, _ops.ASSERT_NOT):  # lookarounds consume nothing
        return set(), True
    return None, False


def _class_chars(items: Any) -> set[str] | None:
    out: set[str] = set()
    for op, argument in items:
        if op is _ops.LITERAL:
            out.add(chr(argument))
        elif op is _ops.RANGE and argument[1] - argument[0] < _MAX_RANGE:
            out.update(chr(c) for c in range(argument[0], argument[1] + 1))
        elif op is _ops.CATEGORY and argument in _CATEGORIES:
            out.add(_CATEGORIES[argument])
        else:  # a negated class or category, a wide range
            return None
    return out


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
