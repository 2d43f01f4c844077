"""Requests fitted to the deployment's model family; the simulator refuses what Azure refuses."""

from __future__ import annotations

import pytest

from llmops.simulator import families
from shared.deployments import Deployment
from shared.model_catalog import load_catalog
from shared.model_catalog.shaping import ModelsPolicy, output_limit_param, refused_params, shape_params
from shared.policies import PolicyError, validate_section

CATALOG = load_catalog()
REASONING = CATALOG.family("reasoning")
CHAT = CATALOG.family("chat")
MESSAGES = [{"role": "user", "content": "hi"}]


def test_reasoning_models_get_max_completion_tokens_and_no_sampling_parameters():
    params = {"messages": MESSAGES, "max_tokens": 50, "temperature": 0.2, "top_p": 0.9, "presence_penalty": 0.5,
              "logprobs": True, "reasoning_effort": "low", "seed": 3}
    shaped = shape_params(params, REASONING)
    assert shaped == {"messages": MESSAGES, "max_completion_tokens": 50, "reasoning_effort": "low", "seed": 3}
    assert params["max_tokens"] == 50  # the caller's dict is not changed (another deployment may follow)


def test_an_explicit_max_completion_tokens_wins_over_max_tokens():
    shaped = shape_params({"messages": MESSAGES, "max_tokens": 50, "max_completion_tokens": 80}, REASONING)
    assert shaped["max_completion_tokens"] == 80 and "max_tokens" not in shaped


def test_chat_models_keep_their_parameters_and_lose_reasoning_effort():
    params = {"messages": MESSAGES, "max_tokens": 50, "temperature": 0.2}
    assert shape_params(params, CHAT) is params  # nothing to do: no copy
    assert shape_params({**params, "reasoning_effort": "high"}, CHAT) == params


def test_refused_parameters_name_the_parameter_and_accept_defaults():
    assert refused_params({"temperature": 1, "top_p": 1.0, "max_tokens": 10}, REASONING) == []
    refused = refused_params({"temperature": 0.2, "logit_bias": {"1": 2}}, REASONING)
    assert [param for param, _ in refused] == ["logit_bias", "temperature"]
    assert "must be 1 (the default)" in refused[1][1]
    assert refused_params({"reasoning_effort": "low"}, CHAT)[0][0] == "reasoning_effort"


def test_the_gateway_caps_output_by_the_family_name():
    assert output_limit_param(REASONING) == "max_completion_tokens"
    assert output_limit_param(CHAT) == "max_tokens"


def test_deployments_take_their_family_from_the_catalog():
    def make(model: str, **extra) -> Deployment:
        return Deployment(alias="a", endpoint="http://x", deployment="d", model=model, **extra)

    assert make("gpt-5-mini").family == "reasoning"
    assert make("o4-mini").model_family == REASONING
    assert make("phi-3.5-mini-ft").family == "chat"  # not in the catalog: a fine-tuned open model
    assert make("gpt-5-mini", family="chat").family == "chat"  # explicit wins
    assert make("gpt-5-mini").api_version == CATALOG.default_api_version == "v1"


def test_the_models_policy_section_is_validated():
    assert ModelsPolicy().unsupported_params == "drop"
    validate_section("models", {"unsupported_params": "refuse"})
    with pytest.raises(PolicyError, match="unsupported_params"):
        validate_section("models", {"unsupported_params": "ignore"})


@pytest.mark.parametrize(("body", "code", "param"), [
    ({"max_tokens": 10}, "unsupported_parameter", "max_tokens"),
    ({"temperature": 0.2}, "unsupported_value", "temperature"),
    ({"top_p": 0.5}, "unsupported_value", "top_p"),
    ({"logprobs": True}, "unsupported_parameter", "logprobs"),
    ({"reasoning_effort": "extreme"}, "invalid_value", "reasoning_effort"),
])
def test_the_simulator_refuses_what_a_reasoning_deployment_refuses(body, code, param):
    error = families.refusal(REASONING, {"messages": MESSAGES, **body})
    assert error is not None
    assert error["error"]["code"] == code and error["error"]["param"] == param


def test_the_simulator_accepts_what_a_reasoning_deployment_accepts():
    body = {"messages": MESSAGES, "max_completion_tokens": 100, "temperature": 1, "reasoning_effort": "high"}
    assert families.refusal(REASONING, body) is None
    assert families.refusal(CHAT, {"messages": MESSAGES, "max_tokens": 5, "temperature": 0.3}) is None
    assert families.refusal(CHAT, {"messages": MESSAGES, "reasoning_effort": "low"})["error"]["param"] == (
        "reasoning_effort")


def test_reasoning_tokens_grow_with_effort_and_stay_within_the_cap():
    low = families.reasoning_tokens(REASONING, {"reasoning_effort": "low"}, seed=1)
    high = families.reasoning_tokens(REASONING, {"reasoning_effort": "high"}, seed=1)
    assert 0 < low < high
    assert families.reasoning_tokens(REASONING, {"reasoning_effort": "minimal"}, seed=1) == 0
    assert families.reasoning_tokens(REASONING, {"reasoning_effort": "high", "max_completion_tokens": 40}, 1) <= 20
    assert families.reasoning_tokens(CHAT, {}, seed=1) == 0
    usage = families.add_reasoning({"prompt_tokens": 5, "completion_tokens": 10, "total_tokens": 15}, 30)
    assert usage["completion_tokens"] == 40 and usage["total_tokens"] == 45
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 30


def test_the_v1_api_is_called_without_an_api_version_beside_dated_versions():
    from shared.backends.azure_openai import AzureOpenAIBackend

    backend = AzureOpenAIBackend(timeout_s=5, connect_timeout_s=1)
    common = {"endpoint": "https://oai.openai.azure.com/", "deployment": "small", "auth": "key", "api_key": "k"}
    v1 = backend._target(Deployment(alias="a", model="gpt-5-mini", api_version="v1", **common), "/chat/completions")
    assert v1.url == "https://oai.openai.azure.com/openai/v1/chat/completions"
    dated = backend._target(Deployment(alias="b", model="gpt-5-mini", api_version="2025-04-01-preview", **common),
                            "/chat/completions")
    assert dated.url == ("https://oai.openai.azure.com/openai/deployments/small/chat/completions"
                         "?api-version=2025-04-01-preview")
    client = backend._new_client(Deployment(alias="c", model="gpt-5-mini", api_version="v1", **common), {})
    assert str(client.base_url) == "https://oai.openai.azure.com/openai/v1/"


def test_the_simulators_responses_api_behaves_per_family_too():
    from starlette.testclient import TestClient

    from llmops.simulator import build_simulator

    with TestClient(build_simulator(["gpt-5-mini", "gpt-4o-mini"], latency="zero", api_key="k")) as client:
        headers = {"api-key": "k"}
        refused = client.post("/openai/v1/responses", headers=headers,
                              json={"model": "gpt-5-mini", "input": "hi", "temperature": 0.3})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "temperature"
        answered = client.post("/openai/v1/responses", headers=headers,
                               json={"model": "gpt-5-mini", "input": "hi", "max_output_tokens": 300,
                                     "reasoning": {"effort": "low"}})
        assert answered.status_code == 200, answered.text
        assert answered.json()["usage"]["output_tokens_details"]["reasoning_tokens"] > 0
        chat = client.post("/openai/v1/responses", headers=headers,
                           json={"model": "gpt-4o-mini", "input": "hi", "temperature": 0.3})
        assert chat.status_code == 200 and chat.json()["usage"]["output_tokens_details"]["reasoning_tokens"] == 0
