"""How long to wait before the next try: the backend's own hint first, exponential backoff otherwise.

Azure OpenAI answers 429 with ``retry-after`` (seconds), ``retry-after-ms`` and
``x-ratelimit-reset-requests`` / ``x-ratelimit-reset-tokens`` (durations like ``1s``, ``250ms``,
``1m30s``). ``Retry-After`` may also be an HTTP date (RFC 9110).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(text: str) -> float | None:
    """``"1.5s"``, ``"250ms"``, ``"1m30s"`` or a bare number of seconds -> seconds."""
    text = text.strip().lower()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(a + u for a, u in parts) != text.replace(" ", ""):
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(amount) * scale[unit] for amount, unit in parts)


def retry_after_s(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait the backend asked for, in seconds, or ``None`` when it gave no hint."""
    if (value := headers.get("retry-after-ms")) is not None:
        try:
            return max(float(value) / 1000, 0.0)
        except ValueError:
            pass
    if (value := headers.get("retry-after")) is not None:
        seconds = parse_duration(value)
        if seconds is not None:
            return seconds
        try:
            moment = parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            moment = None
        if moment is not None:
            return max(moment - (time.time() if now is None else now), 0.0)
    parsed = [parse_duration(headers[name]) for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")
              if name in headers]
    resets = [r for r in parsed if r is not None]
    return max(resets) if resets else None


def backoff_s(attempt: int, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter for the ``attempt``-th retry (0-based)."""
    ceiling = min(max_s, base_s * (2 ** attempt))
    return (rng or random).uniform(0, ceiling) if ceiling > 0 else 0.0
