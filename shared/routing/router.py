"""Which deployments a request goes to, in which order.

A tier (``small``, ``frontier``) is a pool of deployments (regions, PTU and pay-as-you-go). The pool is
ordered by ``priority`` (lower first: e.g. PTU at 0, pay-as-you-go at 1, another region at 2); within
one priority, traffic is split by ``weight`` (a weighted random order per request). The plan for a
request is its pool in that order, then, for ``small`` requests whose policy allows it, the
``frontier`` pool as a last resort. A request naming a model goes to that deployment first, then to
the other deployments serving the same model in the same tier (another region). The decision, its
score and reason go to the request log and the ``x-llmops-route`` header.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.api.errors import ApiError
from shared.deployments import AUTO_MODEL, Deployment, DeploymentRegistry
from shared.request_record import RouteRecord
from shared.routing.complexity import score_request
from shared.routing.policy import RoutingPolicy

ROUTED_TIERS = ("small", "frontier")


@dataclass(slots=True)
class RouteDecision:
    mode: str  # auto | explicit | pinned | policy
    tier: str
    plan: list[Deployment]
    score: float | None = None
    reasons: list[str] = field(default_factory=list)

    def header(self) -> str:
        parts = [self.tier if self.mode in ("auto", "policy") else self.mode]
        if self.score is not None:
            parts.append(f"score={self.score:.2f}")
        if self.reasons:
            parts.append("reason=" + ",".join(self.reasons))
        return "; ".join(parts)

    def record(self) -> RouteRecord:
        out: RouteRecord = {"mode": self.mode, "tier": self.tier, "reason": ",".join(self.reasons) or self.mode,
                               "plan": [d.alias for d in self.plan]}
        if self.score is not None:
            out["score"] = self.score
        return out


def no_healthy_deployment(what: str) -> ApiError:
    return ApiError(503, f"No healthy deployment is available for {what}; retry later.",
                    type="api_error", code="no_healthy_deployment", headers={"retry-after": "1"})


class Router:
    def __init__(self, registry: DeploymentRegistry, *, rng: random.Random | None = None) -> None:
        self.registry = registry
        self._rng = rng or random.Random()

    # -- pools ----------------------------------------------------------------------------
    def pool(self, tier: str, *, model: str | None = None) -> list[Deployment]:
        """The deployments of a tier (optionally of one model) in try order: priority, then weighted shuffle."""
        members = [d for d in self.registry.by_tier(tier) if model is None or d.model == model]
        ordered: list[Deployment] = []
        for priority in sorted({d.priority for d in members}):
            group = [d for d in members if d.priority == priority]
            # Efraimidis–Spirakis: sorting by u^(1/w) draws a weighted random permutation.
            ordered.extend(sorted(group, key=lambda d: self._rng.random() ** (1.0 / d.weight), reverse=True))
        return ordered

    # -- decisions ------------------------------------------------------------------------
    def decide(self, requested_model: str, policy: RoutingPolicy, messages: Sequence[Mapping[str, Any]], *,
               prompt_tokens: int, max_output_tokens: int | None, tools: Sequence[Any] | None) -> RouteDecision:
        if requested_model != AUTO_MODEL and not policy.route_explicit_models:
            return self._explicit(requested_model)
        if requested_model == AUTO_MODEL and policy.pin:
            pinned = self.registry.get(policy.pin)
            if pinned is None or pinned.tier == "embeddings":
                raise ApiError(500, f"The routing policy pins unknown deployment '{policy.pin}'.",
                               type="server_error", code="invalid_tenant_policy")
            return RouteDecision("pinned", pinned.tier, self._with_same_model(pinned))
        complexity = score_request(messages, prompt_tokens=prompt_tokens, max_output_tokens=max_output_tokens,
                                   tools=tools)
        tier = "frontier" if complexity.score >= policy.threshold else "small"
        reasons = complexity.reasons()
        if tier not in policy.allowed_tiers:
            tier = policy.allowed_tiers[0]
            reasons.append("tier-not-allowed")
        plan = self.pool(tier)
        if not plan:
            other = [t for t in policy.allowed_tiers if t != tier]
            plan = [d for t in other for d in self.pool(t)]
            if plan:
                reasons.append(f"no-{tier}-pool")
                tier = plan[0].tier
        elif tier == "small" and policy.upgrade_on_failure and "frontier" in policy.allowed_tiers:
            plan += self.pool("frontier")
        if not plan and self.registry.default_alias is not None:
            plan = [self.registry.default()]
            tier, reasons = plan[0].tier, ["default"]
        if not plan:
            raise no_healthy_deployment("model 'auto' (no small or frontier deployment is configured)")
        mode = "auto" if requested_model == AUTO_MODEL else "policy"
        return RouteDecision(mode, tier, plan, complexity.score, reasons)

    def _explicit(self, alias: str) -> RouteDecision:
        deployment = self.registry.get(alias)
        if deployment is None or deployment.tier == "embeddings":
            raise ApiError.not_found(
                f"The model '{alias}' does not exist. Available: {', '.join(self.registry.model_names())}.",
                param="model", code="model_not_found")
        return RouteDecision("explicit", deployment.tier, self._with_same_model(deployment))

    def _with_same_model(self, deployment: Deployment) -> list[Deployment]:
        """The deployment, then the others serving the same model in the same tier (other regions)."""
        return [deployment, *(d for d in self.pool(deployment.tier, model=deployment.model) if d is not deployment)]
