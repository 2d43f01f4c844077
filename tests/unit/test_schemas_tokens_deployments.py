from __future__ import annotations

import json

import pytest

from shared.api.errors import ApiError
from shared.api.schemas import backend_params, decode_json_object, parse_chat_request
from shared.config import Settings
from shared.deployments import Deployment, DeploymentConfigError, DeploymentRegistry, load_registry
from shared.tokens import count_message_tokens, count_text_tokens

DEPLOYMENT = {"alias": "small", "endpoint": "https://x.openai.azure.com/", "deployment": "gpt-4o-mini",
              "model": "gpt-4o-mini", "tier": "small", "input_per_1m": 0.15, "cached_input_per_1m": 0.075,
              "output_per_1m": 0.6}


def test_request_fields_pass_through_but_gateway_extensions_do_not() -> None:
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "seed": 1, "logit_bias": {"1": 2},
            "context": ["doc"], "prompt": {"name": "x"}, "future_param": True}
    request = parse_chat_request(body, max_messages=10)
    assert request.model == "auto"
    params = backend_params(body, [{"role": "user", "content": "rewritten"}])
    assert "context" not in params and "prompt" not in params and "model" not in params
    assert params["future_param"] is True and params["messages"][0]["content"] == "rewritten"


def test_max_completion_tokens_wins_and_usage_flag() -> None:
    request = parse_chat_request({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 5,
                                  "max_completion_tokens": 9, "stream": True,
                                  "stream_options": {"include_usage": True}}, max_messages=10)
    assert request.output_token_limit == 9 and request.wants_usage_in_stream


@pytest.mark.parametrize("raw", [b"", b"nope", b"[]", b"3"])
def test_body_must_be_a_json_object(raw: bytes) -> None:
    with pytest.raises(ApiError) as caught:
        decode_json_object(raw)
    assert caught.value.status == 400 and caught.value.code == "invalid_json"


def test_token_estimates_are_plausible() -> None:
    assert count_text_tokens("") == 0
    assert 8 <= count_text_tokens("The quick brown fox jumps over the lazy dog.") <= 12
    assert count_text_tokens("1234567") == 3  # digits go in groups of up to three
    long_text = "Refunds are processed within five business days after we receive the returned item. " * 20
    assert 300 <= count_text_tokens(long_text) <= 380
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [
        {"type": "text", "text": "hello"}, {"type": "image_url", "image_url": {"url": "data:"}}]}]
    assert count_message_tokens(messages) > 765


def test_deployment_cost_uses_cached_price() -> None:
    deployment = Deployment.model_validate(DEPLOYMENT)
    assert deployment.endpoint == "https://x.openai.azure.com"
    assert deployment.cost_usd(1_000_000, 1_000_000) == pytest.approx(0.75)
    assert deployment.cost_usd(1_000_000, 0, cached_tokens=500_000) == pytest.approx(0.1125)


@pytest.mark.parametrize(("mutation", "message"), [
    ({"endpoint": "ftp://x"}, "endpoint"),
    ({"input_per_1m": -1}, "input_per_1m"),
    ({"tier": "huge"}, "tier"),
    ({"unknown": 1}, "unknown"),
])
def test_invalid_deployments_are_rejected_with_the_entry_named(mutation, message) -> None:
    settings = Settings(deployments_json=json.dumps([{**DEPLOYMENT, **mutation}]))
    with pytest.raises(DeploymentConfigError, match=message) as caught:
        load_registry(settings)
    assert "small" in str(caught.value)


def test_registry_rules(tmp_path) -> None:
    small = Deployment.model_validate(DEPLOYMENT)
    with pytest.raises(DeploymentConfigError, match="duplicate"):
        DeploymentRegistry([small, small])
    with pytest.raises(DeploymentConfigError, match="reserved"):
        DeploymentRegistry([Deployment.model_validate({**DEPLOYMENT, "alias": "auto"})])
    with pytest.raises(DeploymentConfigError, match="not in the deployment list"):
        DeploymentRegistry([small], "missing")
    path = tmp_path / "deployments.yaml"
    path.write_text("deployments:\n  - " + json.dumps(DEPLOYMENT) + "\n")
    registry = load_registry(Settings(deployments_file=path))
    assert registry.model_names() == ["auto", "small"] and registry.default().alias == "small"
    with pytest.raises(DeploymentConfigError, match="not valid JSON"):
        load_registry(Settings(deployments_json="{oops"))
