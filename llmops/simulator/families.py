"""What each model family accepts, as Azure OpenAI enforces it, and the reasoning tokens it reports.

A deployment's family comes from the model catalog (``shared/model_catalog/catalog.yaml``) by the
deployment's name, or is given when the simulator is built; a name the catalog does not know is a
``chat`` deployment. A reasoning deployment answers ``max_tokens`` and a non-default ``temperature``
(or ``top_p``, penalties, ``logprobs``...) with Azure's 400, and spends reasoning tokens before it
answers: they count in ``completion_tokens`` (and within ``max_completion_tokens``) and are reported as
``completion_tokens_details.reasoning_tokens``. A chat deployment refuses ``reasoning_effort``.
"""

from __future__ import annotations

import random
from typing import Any

from shared.model_catalog import Family, load_catalog

EFFORTS = {"minimal": 0, "low": 1, "medium": 2, "high": 4}  # reasoning tokens in units of REASONING_UNIT
REASONING_UNIT = 48


def family_of(deployment: str) -> str:
    known = load_catalog().family_of(deployment)
    return known.name if known else "chat"


def refusal(family: Family, body: dict[str, Any]) -> dict[str, Any] | None:
    """Azure's error body for a parameter this family refuses; ``None`` when the request is acceptable."""
    for old, new in family.renamed.items():
        if body.get(old) is not None:
            return _error(f"Unsupported parameter: '{old}' is not supported with this model. Use '{new}' instead.",
                          old, "unsupported_parameter")
    for key in sorted(family.rejects):
        if body.get(key) is not None:
            if family.name == "chat":
                return _error(f"Unrecognized request argument supplied: {key}", key, "BadRequest")
            return _error(f"Unsupported parameter: '{key}' is not supported with this model.", key,
                          "unsupported_parameter")
    for key, default in family.default_only.items():
        value = body.get(key)
        if value is not None and float(value) != default:
            return _error(f"Unsupported value: '{key}' does not support {value} with this model. Only the default "
                          f"({default:g}) value is supported.", key, "unsupported_value")
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in EFFORTS:
        return _error(f"Invalid value: '{effort}'. Supported values are: {', '.join(EFFORTS)}.", "reasoning_effort",
                      "invalid_value")
    return None


def _error(message: str, param: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def reasoning_tokens(family: Family, body: dict[str, Any], seed: int) -> int:
    """The tokens a reasoning model thinks for (deterministic per request); 0 for other families."""
    if family.name != "reasoning":
        return 0
    units = EFFORTS.get(str(body.get("reasoning_effort") or "medium"), 2)
    tokens = units * REASONING_UNIT + random.Random(seed).randint(0, REASONING_UNIT // 2) * (units > 0)
    cap = body.get("max_completion_tokens")
    return min(tokens, int(cap) // 2) if cap else tokens


def visible_request(body: dict[str, Any], reasoning: int) -> dict[str, Any]:
    """The request as the answer generator sees it: the cap left once the reasoning is spent."""
    cap = body.get("max_completion_tokens")
    if not reasoning or not cap:
        return body
    return {**body, "max_completion_tokens": max(int(cap) - reasoning, 1)}


def add_reasoning(usage: dict[str, Any], reasoning: int) -> dict[str, Any]:
    details = {**(usage.get("completion_tokens_details") or {}), "reasoning_tokens": reasoning}
    return {**usage, "completion_tokens": usage["completion_tokens"] + reasoning,
            "total_tokens": usage["total_tokens"] + reasoning, "completion_tokens_details": details}
