import pytest

from shared.guardrails.catalog import known_checks
from shared.guardrails.policy import REPO_POLICY_DIR, AppGuardrails, PolicyError, PolicySet


def test_repository_policies_load_and_validate():
    policies = PolicySet.load(REPO_POLICY_DIR)
    assert {"default", "crm-support"} <= set(policies.policies)
    crm = policies.policies["crm-support"]
    assert [r.name for r in crm.output_rules] == ["pii", "toxicity", "groundedness", "product_claims"]


def test_known_checks():
    assert known_checks() == ["groundedness", "injection", "pii", "product_claims", "topics", "toxicity"]


def test_resolution_order(policy_dir):
    policies = PolicySet.load(policy_dir)
    assert policies.resolve("acme", "support", AppGuardrails()).name == "strict"  # bindings.yaml
    assert policies.resolve("acme", "other", AppGuardrails()).name == "default"
    assert policies.resolve("other", "x", AppGuardrails.parse("strict")).name == "strict"  # app section wins
    assert policies.resolve("acme", "support", AppGuardrails.parse({"policy": "default"})).name == "default"
    with pytest.raises(PolicyError, match="unknown guardrail policy 'nope'"):
        policies.resolve("t", "a", AppGuardrails.parse({"policy": "nope"}))
    with pytest.raises(PolicyError, match="guardrails section"):
        AppGuardrails.parse({"polcy": "typo"})


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("name: bad\ninput:\n  - {check: telepathy, action: block}\n", "unknown check 'telepathy'"),
        ("name: bad\ninput:\n  - {check: groundedness, action: flag}\n", "runs on output only"),
        ("name: bad\ninput:\n  - {check: injection, action: redact}\n", "action 'redact' is not available"),
        ("name: bad\ninput:\n  - {check: pii, action: explode}\n", "input.0.action"),
        ("name: bad\ninput:\n  - {check: pii, threshold: 2}\n", "input.0.threshold"),
        ("name: bad\ninput:\n  - {check: pii, options: {colour: red}}\n", "options.colour"),
        ("name: bad\ninput:\n  - {check: pii, options: {types: [SHOE_SIZE]}}\n", "unknown PII types"),
        ("name: bad\noutput:\n  - {check: product_claims, options: {catalog: missing.json}}\n", "not found"),
        ("name: bad\ninput:\n  - {check: injection, provider: azure}\n", "LLMOPS_CONTENT_SAFETY_ENDPOINT"),
        ("name: bad\ninput:\n  - {check: pii, provider: azure}\n", "LLMOPS_LANGUAGE_ENDPOINT"),
        ("name: bad\ninput:\n  - {check: topics, provider: azure, options: {allowed: [x]}}\n", "no Azure adapter"),
        ("name: bad\nsurprise: 1\n", "surprise"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_policy_files_fail_at_load_with_a_clear_error(policy_dir, yaml_text, message):
    (policy_dir / "bad.yaml").write_text(yaml_text)
    with pytest.raises(PolicyError, match=message) as info:
        PolicySet.load(policy_dir)
    assert "bad.yaml" in str(info.value) or "YAML" in str(info.value)


def test_missing_default_and_bad_bindings(policy_dir):
    with pytest.raises(PolicyError, match="default guardrail policy 'other'"):
        PolicySet.load(policy_dir, default="other")
    (policy_dir / "bindings.yaml").write_text('"acme/x": ghost\n')
    with pytest.raises(PolicyError, match="unknown policy 'ghost'"):
        PolicySet.load(policy_dir)
    with pytest.raises(PolicyError, match="does not exist"):
        PolicySet.load(policy_dir / "nowhere")
