"""Fit a chat request to the family of the deployment that serves it (``catalog.yaml`` says how).

Reasoning models (o-series, the GPT-5 family) take ``max_completion_tokens``, not ``max_tokens``, and
accept sampling parameters (``temperature``, ``top_p``, penalties) only at their defaults; chat models
do not know ``reasoning_effort``. A client should not have to know which model is behind an alias, so
every call is shaped for the deployment it goes to (after failover too)::

    params = shape_params(params, deployment.model_family)     # renamed and dropped, never refused

What happens to a parameter the model would refuse is the app's policy (section ``models``)::

    {"unsupported_params": "drop"}     # default: the parameter is left out of the call
    {"unsupported_params": "refuse"}   # the request gets a 400 naming the parameter

Renaming ``max_tokens`` is not a policy matter: the cap means the same to both families. A
parameter a reasoning model accepts only at its default is refused only when the request sets another
value (``temperature: 1`` passes, then is dropped as redundant).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shared.model_catalog import Family


class ModelsPolicy(BaseModel):
    """The ``models`` section of a tenant/app policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unsupported_params: Literal["drop", "refuse"] = "drop"


def shape_params(params: dict[str, Any], family: Family) -> dict[str, Any]:
    """The parameters as the family accepts them: renamed, and what it would refuse dropped.

    Returns ``params`` itself when nothing applies (the common case costs one set intersection)."""
    if family.touched.isdisjoint(params):
        return params
    out = dict(params)
    for old, new in family.renamed.items():
        if old in out:
            value = out.pop(old)
            if out.get(new) is None and value is not None:
                out[new] = value
    for key in family.rejects:
        out.pop(key, None)
    for key in family.default_only:
        out.pop(key, None)
    return out


def refused_params(params: dict[str, Any], family: Family) -> list[tuple[str, str]]:
    """``(parameter, why)`` for each parameter the family's models would answer with an error."""
    out: list[tuple[str, str]] = []
    for key in sorted(family.rejects):
        if params.get(key) is not None:
            out.append((key, f"'{key}' is not supported by {family.name} models"))
    for key, default in family.default_only.items():
        value = params.get(key)
        if value is not None and float(value) != default:
            out.append((key, f"'{key}' must be {default:g} (the default) for {family.name} models; got {value!r}"))
    return out


def output_limit_param(family: Family) -> str:
    """The name the gateway uses when it sets the output cap itself (e.g. for a token limit)."""
    return "max_tokens" if family.token_limit == "none" else family.token_limit
