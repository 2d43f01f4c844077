"""Complexity scoring against a labelled prompt set, and the router's decisions and pools."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from shared.api.errors import ApiError
from shared.deployments import Deployment, DeploymentRegistry
from shared.policies import PolicyError, parse_section, validate_section
from shared.routing import Router, RoutingPolicy, score_request
from shared.routing.policy import DEFAULT_THRESHOLD
from shared.tokens import count_message_tokens
from tests.unit.routing.labelled_prompts import LABELLED

# Floors for the labelled set (80 prompts). Measured with the default threshold: 79/80 correct, 1 of 40
# frontier prompts under-routed. The floors leave room for a few borderline prompts to flip when the
# token counter changes (exact cl100k vs the estimate shift the length feature) without hiding a real
# regression: under 90% accuracy routing would cost either quality or most of its savings, and the
# under-routing floor is the product target (<= 5% of frontier-needing requests sent to small).
ACCURACY_FLOOR = 0.90
UNDER_ROUTED_CEILING = 0.05


def conversation(prompt: str) -> list[dict]:
    return [{"role": "system", "content": "You are a helpful assistant for Contoso."},
            {"role": "user", "content": prompt}]


def routed_tier(prompt: str, threshold: float = DEFAULT_THRESHOLD) -> str:
    messages = conversation(prompt)
    complexity = score_request(messages, prompt_tokens=count_message_tokens(messages))
    return "frontier" if complexity.score >= threshold else "small"


def test_routing_accuracy_on_the_labelled_set() -> None:
    outcomes = Counter((label, routed_tier(prompt)) for prompt, label in LABELLED)
    total = len(LABELLED)
    correct = outcomes[("small", "small")] + outcomes[("frontier", "frontier")]
    frontier_total = sum(1 for _, label in LABELLED if label == "frontier")
    assert correct / total >= ACCURACY_FLOOR, outcomes
    assert outcomes[("frontier", "small")] / frontier_total <= UNDER_ROUTED_CEILING, outcomes


def test_score_reasons_name_the_features() -> None:
    simple = score_request(conversation("hi"), prompt_tokens=5)
    assert simple.score < 0.05 and "short" in simple.reasons() and "no-code" in simple.reasons()
    code = score_request(conversation("Fix this:\n```python\ndef f(x):\n    return x +\n```"), prompt_tokens=40)
    assert "code" in code.reasons()
    long_output = score_request(conversation("tell me about dogs"), prompt_tokens=10, max_output_tokens=4000)
    assert long_output.features["long-output"] == 1.0


def test_tools_and_depth_raise_the_score() -> None:
    base = conversation("Please check the delivery status for order 5512.")
    tools = [{"type": "function", "function": {"name": f"t{i}"}} for i in range(3)]
    plain = score_request(base, prompt_tokens=20).score
    with_tools = score_request(base, prompt_tokens=20, tools=tools).score
    deep = base[:1] + [{"role": "user" if i % 2 == 0 else "assistant", "content": "more"} for i in range(12)] + base[1:]
    assert with_tools > plain and score_request(deep, prompt_tokens=80).score > plain


def deployment(alias: str, tier: str, *, model: str | None = None, priority: int = 0, weight: float = 1.0,
               price: float = 1.0) -> Deployment:
    return Deployment(alias=alias, endpoint="http://127.0.0.1:1", deployment=alias, model=model or alias, tier=tier,
                      priority=priority, weight=weight, input_per_1m=price, output_per_1m=price)


@pytest.fixture
def registry() -> DeploymentRegistry:
    return DeploymentRegistry([
        deployment("mini-ptu", "small", model="mini", priority=0, weight=3),
        deployment("mini-paygo", "small", model="mini", priority=0, weight=1),
        deployment("mini-west", "small", model="mini", priority=1),
        deployment("big", "frontier", price=10),
        deployment("big-west", "frontier", model="big", priority=1, price=10),
        deployment("embed", "embeddings"),
    ], default_alias="mini-ptu")


def decide(router: Router, prompt: str, policy: RoutingPolicy | None = None, model: str = "auto", **kwargs):
    messages = conversation(prompt)
    return router.decide(model, policy or RoutingPolicy(), messages, prompt_tokens=count_message_tokens(messages),
                         max_output_tokens=kwargs.get("max_tokens"), tools=kwargs.get("tools"))


def test_auto_routes_simple_to_small_and_hard_to_frontier(registry: DeploymentRegistry) -> None:
    router = Router(registry, rng=random.Random(1))
    simple = decide(router, "What time do you open?")
    assert simple.tier == "small" and simple.mode == "auto"
    # the small pool first (priority 0, then the other region), the frontier pool as the last resort
    assert {d.alias for d in simple.plan[:2]} == {"mini-ptu", "mini-paygo"}
    assert [d.alias for d in simple.plan[2:]] == ["mini-west", "big", "big-west"]
    assert simple.header().startswith("small; score=0.00; reason=short")
    hard = decide(router, "Refactor this Python class and explain the trade-offs:\n```python\nclass A: pass\n```")
    assert hard.tier == "frontier" and [d.alias for d in hard.plan] == ["big", "big-west"]
    assert hard.record()["score"] == hard.score and "code" in hard.record()["reason"]


def test_weights_split_traffic_within_a_priority(registry: DeploymentRegistry) -> None:
    router = Router(registry, rng=random.Random(7))
    firsts = Counter(router.pool("small")[0].alias for _ in range(4000))
    assert set(firsts) == {"mini-ptu", "mini-paygo"}  # priority 1 never comes first
    assert firsts["mini-ptu"] / 4000 == pytest.approx(0.75, abs=0.03)


def test_explicit_model_keeps_its_deployment_and_fails_over_to_the_same_model(registry: DeploymentRegistry) -> None:
    router = Router(registry)
    decision = decide(router, "Refactor this code", model="mini-west")
    assert decision.mode == "explicit" and decision.plan[0].alias == "mini-west"
    assert {d.alias for d in decision.plan} == {"mini-west", "mini-ptu", "mini-paygo"}
    assert decision.header() == "explicit" and decision.score is None
    with pytest.raises(ApiError) as missing:
        decide(router, "hi", model="nope")
    assert missing.value.status == 404 and missing.value.code == "model_not_found"
    with pytest.raises(ApiError):
        decide(router, "hi", model="embed")


def test_policy_threshold_tiers_pin_and_explicit_routing(registry: DeploymentRegistry) -> None:
    router = Router(registry)
    assert decide(router, "What time do you open?", RoutingPolicy(threshold=0.0)).tier == "frontier"
    only_small = decide(router, "Prove that P != NP, step by step", RoutingPolicy(allowed_tiers=("small",)))
    assert only_small.tier == "small" and "tier-not-allowed" in only_small.reasons
    assert all(d.tier == "small" for d in only_small.plan)  # no upgrade to a tier the app may not use
    no_upgrade = decide(router, "hi", RoutingPolicy(upgrade_on_failure=False))
    assert all(d.tier == "small" for d in no_upgrade.plan)
    pinned = decide(router, "Prove the theorem", RoutingPolicy(pin="big-west"))
    assert pinned.mode == "pinned" and pinned.plan[0].alias == "big-west"
    forced = decide(router, "hi", RoutingPolicy(route_explicit_models=True), model="big")
    assert forced.mode == "policy" and forced.tier == "small"
    with pytest.raises(ApiError) as bad_pin:
        decide(router, "hi", RoutingPolicy(pin="nope"))
    assert bad_pin.value.code == "invalid_tenant_policy"


def test_missing_pools_fall_back_or_answer_503() -> None:
    only_frontier = Router(DeploymentRegistry([deployment("big", "frontier")]))
    decision = decide(only_frontier, "hi")
    assert decision.tier == "frontier" and "no-small-pool" in decision.reasons
    nothing = Router(DeploymentRegistry([deployment("embed", "embeddings")]))
    with pytest.raises(ApiError) as error:
        decide(nothing, "hi")
    assert error.value.status == 503 and error.value.code == "no_healthy_deployment"
    assert error.value.type == "api_error"


def test_routing_policy_validation_names_the_problem() -> None:
    assert parse_section(RoutingPolicy, "routing", None) == RoutingPolicy()
    with pytest.raises(PolicyError, match="unknown setting 'treshold'"):
        validate_section("routing", {"treshold": 0.5})
    with pytest.raises(PolicyError, match="threshold"):
        validate_section("routing", {"threshold": 1.5})
    with pytest.raises(PolicyError, match="allowed_tiers"):
        validate_section("routing", {"allowed_tiers": ["canary"]})
    with pytest.raises(PolicyError, match="must be a JSON object"):
        validate_section("routing", ["small"])
    with pytest.raises(PolicyError, match=r"guardrails.*unknown setting 'anything'"):
        validate_section("guardrails", {"anything": True})  # every feature's section is checked at the door
    with pytest.raises(PolicyError, match="unknown policy section 'routeing'"):
        validate_section("routeing", {})


def test_supplied_context_and_quoted_mail_do_not_count_as_the_ask() -> None:
    from shared.routing.complexity import ask_text

    text = ("Knowledge base:\n\nCredits of 5% apply per missed response, capped at 25% per month; analyse, "
            "compare and calculate nothing here.\n\nWhen is the renewal date?\n\n> On Monday you wrote:\n> why?")
    assert ask_text(text) == "When is the renewal date?"
    with_context = conversation(text)
    assert score_request(with_context, prompt_tokens=80).score < DEFAULT_THRESHOLD
