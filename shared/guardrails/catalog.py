"""Every guardrail check by name: the built-in detectors (``detectors.py``) registered, then looked up.

A policy rule names its check (``check: pii``); ``check_class`` turns the name into the class.
"""

from __future__ import annotations

from shared.guardrails import detectors  # noqa: F401  (registers the built-in checks)
from shared.guardrails.checks import Check, registered_checks


def check_class(name: str) -> type[Check]:
    checks = registered_checks()
    try:
        return checks[name]
    except KeyError:
        raise KeyError(f"unknown check {name!r}; known checks: {', '.join(sorted(checks))}") from None


def known_checks() -> list[str]:
    return sorted(registered_checks())
