"""The ``limits`` section of a tenant's or an app's policy.

On the tenant it limits the tenant as a whole (all its apps together); on an app, that app alone.
Both apply when both are set. Example::

    llmops tenants set-policy contoso limits '{"monthly_budget_usd": 500}'
    llmops tenants set-policy contoso limits '{"requests_per_minute": 600, "tokens_per_minute": 200000,
        "monthly_budget_usd": 50, "default_output_tokens": 512}' --app mobile

Every limit is optional; 0 is a valid limit (it refuses everything), a negative one is rejected.
``default_output_tokens`` is the output allowance reserved (and set as ``max_tokens``) for a request
that sends no ``max_tokens`` while a token or budget limit applies (default: the platform setting
``LLMOPS_LIMITS_DEFAULT_OUTPUT_TOKENS``, 1024).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LimitsPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_minute: int | None = Field(default=None, ge=0)
    tokens_per_minute: int | None = Field(default=None, ge=0)
    monthly_budget_usd: float | None = Field(default=None, ge=0)
    default_output_tokens: int | None = Field(default=None, ge=1)

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.requests_per_minute, self.tokens_per_minute,
                                           self.monthly_budget_usd))

    @property
    def bounds_tokens(self) -> bool:
        """Does this policy need the request's output to be bounded (token or budget limit)?"""
        return self.tokens_per_minute is not None or self.monthly_budget_usd is not None
