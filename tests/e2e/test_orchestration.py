"""Orchestration through the gateway with the OpenAI SDK: grounding with citations and claim checks,
conversation memory for a mobile client, embeddings, one model."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest
from openai import OpenAI

from tests.support.stack import Stack

pytestmark = pytest.mark.integration
CATALOG = {"products": [
    {"id": "cx-200", "name": "Contoso CX-200", "price": 199.0, "currency": "USD", "availability": "in_stock",
     "specs": {"battery life": "12 hours"}},
    {"id": "cx-500", "name": "Contoso CX-500", "price": 499.0, "currency": "USD", "availability": "out_of_stock",
     "specs": {"battery life": "18 hours"}},
]}


def client(stack: Stack, key: str | None = None) -> OpenAI:
    return OpenAI(base_url=stack.gateway_url + "/api/v1", api_key=key or stack.key, max_retries=0)


@pytest.fixture(scope="module")
def catalog_source(stack: Stack) -> str:
    grounding = stack.platform.grounding()

    async def register() -> None:
        if await grounding.registry.get("contoso", "shop") is None:
            await grounding.add("contoso", "shop")
        await grounding.sync_files("contoso", "shop", {"catalog.json": json.dumps(CATALOG, indent=1).encode()})

    stack.call(register(), timeout=120)
    return "shop"


def test_grounded_answer_cites_the_catalog_and_a_contradicting_claim_is_blocked(stack: Stack,
                                                                                catalog_source: str) -> None:
    policy = {"policy": "crm-support"}
    stack.call(stack.platform.tenants.set_policy("contoso", "crm", "guardrails", policy))
    key = stack.new_key("contoso", "crm")
    question = [{"role": "user", "content": "How much does the Contoso CX-500 cost?"}]
    raw = client(stack, key).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=question, extra_body={"grounding": {"source": catalog_source, "top_k": 2}})
    answer = raw.parse()
    assert "499.00 USD" in answer.choices[0].message.content and "[1]" in answer.choices[0].message.content
    citations = answer.model_extra["citations"]
    assert citations[0]["source"] == "shop" and citations[0]["location"].startswith("catalog.json#L")
    assert raw.headers["x-llmops-citations"].startswith("1=shop:catalog.json#L")
    stack.control("faults", {"deployment": "*", "hallucination_rate": 1.0})  # the model misquotes the price
    with pytest.raises(openai.UnprocessableEntityError) as blocked:
        client(stack, key).chat.completions.create(model="gpt-4o-mini", messages=question,
                                                   extra_body={"grounding": {"source": catalog_source}})
    assert blocked.value.body["code"] == "guardrail_violation"
    record = stack.log_record(blocked.value.response.headers["x-request-id"])
    claims = next(v for v in record["guardrails"] if v["check"] == "product_claims")
    assert claims["action"] == "block" and claims["spans"][0]["type"] == "PRODUCT_CLAIM"  # the price is wrong
    with pytest.raises(openai.NotFoundError) as unknown:
        client(stack, key).chat.completions.create(model="gpt-4o-mini", messages=question,
                                                   extra_body={"grounding": {"source": "nope"}})
    assert unknown.value.body["code"] == "source_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        client(stack, key).chat.completions.create(model="gpt-4o-mini", messages=question,
                                                   extra_body={"grounding": {"source": "shop", "top_k": 99}})
    assert bad.value.body["param"] == "grounding.top_k"


def test_mobile_client_holds_ten_turns_sending_only_new_messages(stack: Stack) -> None:
    headers = {"authorization": f"Bearer {stack.key}"}
    created = httpx2.post(f"{stack.gateway_url}/api/v1/conversations", json={"user": "u7"}, headers=headers)
    assert created.status_code == 201, created.text
    conversation_id = created.json()["id"]
    sdk = client(stack)
    for turn in range(10):
        sent = [{"role": "user", "content": f"Turn {turn}: tell me about delivery option {turn}"}]
        stream = turn % 2 == 1
        extra = {"conversation_id": conversation_id}
        if stream:
            with sdk.chat.completions.with_streaming_response.create(
                    model="gpt-4o-mini", messages=sent, user="u7", stream=True, extra_body=extra) as response:
                assert response.headers["x-llmops-conversation-id"] == conversation_id
                request_id = response.headers["x-request-id"]
                list(response.parse())
        else:
            raw = sdk.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=sent, user="u7",
                                                                extra_body=extra)
            request_id = raw.headers["x-request-id"]
        record = stack.log_record(request_id)
        assert record["conversation"]["sent_messages"] == 2 * turn + 1  # the history came from memory
    summary = httpx2.get(f"{stack.gateway_url}/api/v1/conversations/{conversation_id}?user=u7", headers=headers)
    assert summary.json()["turns"] == 10 and summary.json()["messages"] == 20
    other = stack.new_key("fabrikam", "mobile")
    with pytest.raises(openai.NotFoundError) as crossing:
        client(stack, other).chat.completions.create(model="gpt-4o-mini", messages=sent, user="u7",
                                                     extra_body={"conversation_id": conversation_id})
    assert crossing.value.body["code"] == "conversation_not_found"
    assert httpx2.delete(f"{stack.gateway_url}/api/v1/conversations/{conversation_id}",
                         headers={"authorization": f"Bearer {other}"}).status_code == 404
    assert httpx2.delete(f"{stack.gateway_url}/api/v1/conversations/{conversation_id}?user=u7",
                         headers=headers).status_code == 200
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="gpt-4o-mini", messages=sent, user="u7",
                                    extra_body={"conversation_id": conversation_id})


def test_embeddings_through_the_sdk_with_exact_cache_and_model_lookup(stack: Stack) -> None:
    sdk = client(stack)
    first = sdk.embeddings.with_raw_response.create(model="text-embedding-3-small", input=["reset my password"])
    again = sdk.embeddings.with_raw_response.create(model="text-embedding-3-small", input=["reset my password"])
    assert first.headers["x-llmops-cache"] == "miss" and again.headers["x-llmops-cache"] == "hit-exact"
    assert first.parse().data[0].embedding == again.parse().data[0].embedding
    assert float(first.headers["x-llmops-cost-usd"]) > 0 and float(again.headers["x-llmops-cost-usd"]) == 0
    azure = openai.AzureOpenAI(azure_endpoint=f"{stack.gateway_url}/api", api_key=stack.key,
                               api_version="2024-10-21", max_retries=0)
    assert len(azure.embeddings.create(model="text-embedding-3-small", input="hi", dimensions=32).data[0]
               .embedding) == 32
    with pytest.raises(openai.NotFoundError):
        sdk.embeddings.create(model="gpt-4o", input="x")
    with pytest.raises(openai.BadRequestError):
        sdk.embeddings.create(model="text-embedding-3-small", input=[])
    assert sdk.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("nope")
