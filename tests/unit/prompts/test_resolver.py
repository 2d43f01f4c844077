"""The gateway's prompt step: reference validation, rendering into the request, caching, errors."""

from __future__ import annotations

import pytest

from shared.prompts.registry import PromptRegistry
from shared.prompts.resolver import PromptRequestError, PromptResolver
from tests.unit.prompts.conftest import prompt_file


class Ticker:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def setup(registry: PromptRegistry) -> tuple[str, str]:
    [v1] = await registry.push([prompt_file()], actor="ana")
    [v2] = await registry.push([prompt_file(system="Brief answers for {{ company }}.")], actor="ana")
    await registry.move_label("faq", "production", v1.version, actor="ana")
    return v1.version, v2.version


async def test_prepare_renders_prompt_before_client_messages(registry: PromptRegistry) -> None:
    v1, _ = await setup(registry)
    resolver = PromptResolver(registry)
    body = {
        "model": "auto",
        "prompt": {"name": "faq", "variables": {"question": "Where is my order?"}},
        "messages": [{"role": "assistant", "content": "earlier"}],
        "max_tokens": 10,
    }
    prepared = await resolver.prepare(body)
    assert prepared is not None
    assert prepared.header == f"faq@{v1}" and prepared.record == {"name": "faq", "version": v1, "number": 1}
    assert [m["role"] for m in prepared.body["messages"]] == ["system", "user", "assistant"]
    assert prepared.body["messages"][0]["content"] == "You answer FAQs for Contoso."
    assert prepared.body["max_tokens"] == 10  # the client's value wins
    assert prepared.body["temperature"] == 0  # the prompt's default fills the gap
    assert "prompt" not in prepared.body
    assert await resolver.prepare({"messages": []}) is None


async def test_version_and_label_selection(registry: PromptRegistry) -> None:
    _v1, v2 = await setup(registry)
    resolver = PromptResolver(registry)
    by_version = await resolver.prepare({"prompt": {"name": "faq", "version": v2, "variables": {"question": "q"}}})
    assert by_version is not None and by_version.version.version == v2
    by_number = await resolver.prepare({"prompt": {"name": "faq", "version": "v2", "variables": {"question": "q"}}})
    assert by_number is not None and by_number.version.version == v2


async def test_label_cache_ttl_and_local_invalidation(registry: PromptRegistry) -> None:
    v1, v2 = await setup(registry)
    clock = Ticker()
    resolver = PromptResolver(registry, ttl_s=5.0, clock=clock)
    body = {"prompt": {"name": "faq", "variables": {"question": "q"}}}
    assert (await resolver.prepare(body)).version.version == v1
    # another process moves the label: this one sees it only after the TTL
    other = PromptRegistry(registry.store)
    await other.move_label("faq", "production", v2, actor="bo")
    assert (await resolver.prepare(body)).version.version == v1
    clock.now = 6.0
    assert (await resolver.prepare(body)).version.version == v2
    # a move through this process's registry is seen at once
    await registry.rollback("faq", "production", actor="bo")
    assert (await resolver.prepare(body)).version.version == v1


@pytest.mark.parametrize(
    ("prompt", "status", "fragment"),
    [
        ({"name": "faq"}, 400, "missing variables: question"),
        ({"name": "faq", "variables": {"question": 5}}, 400, "must be a string, got number"),
        ({"name": "faq", "variables": {"question": "q", "x": 1}}, 400, "unknown variables: x"),
        ({"name": "faq", "label": "staging", "variables": {"question": "q"}}, 404, "no label 'staging'"),
        ({"name": "nope", "variables": {}}, 404, "no prompt named 'nope'"),
        ({"name": "faq", "version": "0000000", "variables": {}}, 404, "no version"),
        ({"name": "faq", "label": "production", "version": "v1"}, 400, "either 'label' or 'version'"),
        ({"name": "Bad Name"}, 400, "prompt.name"),
        ({"name": "faq", "colour": "red"}, 400, "prompt.colour"),
        ("faq", 400, "invalid prompt"),
    ],
)
async def test_errors_map_to_client_statuses(registry: PromptRegistry, prompt, status, fragment) -> None:
    await setup(registry)
    with pytest.raises(PromptRequestError) as info:
        await PromptResolver(registry).prepare({"prompt": prompt})
    assert info.value.status == status and fragment in info.value.message


async def test_messages_must_be_a_list(registry: PromptRegistry) -> None:
    await setup(registry)
    with pytest.raises(PromptRequestError) as info:
        await PromptResolver(registry).prepare(
            {"prompt": {"name": "faq", "variables": {"question": "q"}}, "messages": "hi"}
        )
    assert info.value.status == 400 and info.value.param == "messages"
