"""The ``routing`` section of a tenant/app policy, validated with clear errors (unknown keys rejected).

Example (``llmops tenants set-policy contoso routing '{...}' --app crm``)::

    {"threshold": 0.4, "allowed_tiers": ["small", "frontier"], "pin": null,
     "route_explicit_models": false, "upgrade_on_failure": true}

- ``threshold``: requests scoring at or above it go to ``frontier``, below it to ``small``;
- ``allowed_tiers``: tiers this app may use; a decision outside it moves to the nearest allowed tier;
- ``pin``: a deployment alias every ``auto`` request of this app goes to (no scoring);
- ``route_explicit_models``: score and route even requests that name a model (cost control by policy);
- ``upgrade_on_failure``: when every deployment of the ``small`` pool fails, try the ``frontier`` pool.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

RoutedTier = Literal["small", "frontier"]
DEFAULT_THRESHOLD = 0.25


class RoutingPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0, le=1)
    allowed_tiers: tuple[RoutedTier, ...] = ("small", "frontier")
    pin: str | None = Field(default=None, min_length=1)
    route_explicit_models: bool = False
    upgrade_on_failure: bool = True

    @field_validator("allowed_tiers")
    @classmethod
    def _not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must name at least one tier")
        return value
