"""Registry on the SQLite store: versions, idempotent push, labels, A/B split, rollback, audit."""

from __future__ import annotations

from collections import Counter

import pytest

from shared.prompts.registry import LabelError, PromptNotFoundError, PromptRegistry, pick_target, split_targets
from shared.prompts.registry import LabelTarget as T
from tests.unit.prompts.conftest import prompt_file


async def test_push_is_idempotent_and_numbers_versions(registry: PromptRegistry) -> None:
    first = await registry.push([prompt_file()], actor="ana")
    again = await registry.push([prompt_file()], actor="ana")
    assert first[0].created and not again[0].created and first[0].version == again[0].version
    changed = await registry.push([prompt_file(system="You answer FAQs briefly for {{ company }}.")], actor="ana")
    assert changed[0].created and changed[0].number == 2
    versions = await registry.versions("faq")
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].created_by == "ana" and versions[0].source == "prompts/faq.yaml"
    assert await registry.names() == ["faq"]
    # reverting to old content finds the old version: content-addressed
    reverted = await registry.push([prompt_file()], actor="ana")
    assert not reverted[0].created and reverted[0].number == 1


async def test_get_version_by_hash_prefix_and_number(registry: PromptRegistry) -> None:
    [pushed] = await registry.push([prompt_file()], actor="ana")
    assert (await registry.get_version("faq", pushed.version)).number == 1
    assert (await registry.get_version("faq", pushed.version[:6])).version == pushed.version
    assert (await registry.get_version("faq", "v1")).version == pushed.version
    for bad in ("v9", "ffffff", "nope"):
        with pytest.raises(PromptNotFoundError):
            await registry.get_version("faq", bad)


async def test_labels_promote_and_rollback_with_audit(registry: PromptRegistry) -> None:
    [v1] = await registry.push([prompt_file()], actor="ana")
    [v2] = await registry.push([prompt_file(system="Be brief, {{ company }}.")], actor="ana")
    with pytest.raises(PromptNotFoundError):
        await registry.resolve("faq")  # no production label yet
    await registry.move_label("faq", "production", v1.version, actor="ana")
    await registry.move_label("faq", "production", v2.version, actor="bo", reason="shorter answers")
    assert (await registry.resolve("faq")).version == v2.version
    await registry.rollback("faq", "production", actor="cy", reason="complaints")
    assert (await registry.resolve("faq")).version == v1.version
    with pytest.raises(LabelError):
        await registry.rollback("faq", "production", actor="cy")
    audit = await registry.audit("faq")
    assert [a["action"] for a in audit] == ["rollback", "promote", "promote", "push", "push"]
    rollback = audit[0]
    assert rollback["actor"] == "cy" and rollback["reason"] == "complaints" and rollback["via"] == "cli"
    assert rollback["from"] == [{"version": v2.version, "weight": 100}]
    assert rollback["to"] == [{"version": v1.version, "weight": 100}]


async def test_custom_labels_and_bad_labels(registry: PromptRegistry) -> None:
    [v1] = await registry.push([prompt_file()], actor="ana")
    await registry.move_label("faq", "eu-pilot", v1.version, actor="ana")
    assert (await registry.resolve("faq", label="eu-pilot")).version == v1.version
    assert set(await registry.labels("faq")) == {"eu-pilot"}
    with pytest.raises(LabelError):
        await registry.move_label("faq", "Bad Label", v1.version, actor="ana")
    with pytest.raises(PromptNotFoundError):
        await registry.move_label("faq", "staging", "abcdef", actor="ana")
    with pytest.raises(PromptNotFoundError):
        await registry.labels("unknown")


async def test_weighted_split_is_sticky_per_key(registry: PromptRegistry) -> None:
    [v1] = await registry.push([prompt_file()], actor="ana")
    [v2] = await registry.push([prompt_file(system="Alt {{ company }}.")], actor="ana")
    await registry.move_label("faq", "production", v1.version, actor="ana")
    record = await registry.move_label("faq", "production", v2.version, weight=20, actor="ana")
    assert record["action"] == "split"
    assert record["to"] == [{"version": v2.version, "weight": 20}, {"version": v1.version, "weight": 80}]
    counts = Counter()
    for user in range(400):
        chosen = (await registry.resolve("faq", ab_key=f"user-{user}")).version
        assert chosen == (await registry.resolve("faq", ab_key=f"user-{user}")).version  # sticky
        counts[chosen] += 1
    assert 50 <= counts[v2.version] <= 110 and counts[v1.version] + counts[v2.version] == 400
    # a full promotion ends the split; rollback restores it
    await registry.move_label("faq", "production", v2.version, actor="ana")
    assert (await registry.labels("faq"))["production"] == [T(v2.version, 100)]
    await registry.rollback("faq", "production", actor="ana")
    assert len((await registry.labels("faq"))["production"]) == 2


async def test_label_pointing_at_missing_version(registry: PromptRegistry) -> None:
    [v1] = await registry.push([prompt_file()], actor="ana")
    await registry.move_label("faq", "production", v1.version, actor="ana")
    await registry.store.delete("prompts", f"v:{v1.version}", "faq")
    with pytest.raises(PromptNotFoundError, match="points at version"):
        await registry.resolve("faq")


async def test_listeners_hear_label_moves(registry: PromptRegistry) -> None:
    heard = []
    registry.on_label_move(lambda name, label: heard.append((name, label)))
    [v1] = await registry.push([prompt_file()], actor="ana")
    await registry.move_label("faq", "staging", v1.version, actor="ana")
    assert heard == [("faq", "staging")]


def test_split_arithmetic_and_pick() -> None:
    assert split_targets([], "b", 30) == [T("b", 100)]
    assert split_targets([T("a", 100)], "b", 30) == [T("b", 30), T("a", 70)]
    three = split_targets([T("a", 50), T("c", 50)], "b", 10)
    assert sum(t.weight for t in three) == 100 and three[0] == T("b", 10)
    assert split_targets([T("a", 60), T("b", 40)], "b", 100) == [T("b", 100)]
    with pytest.raises(LabelError):
        split_targets([T("a", 100)], "b", 0)
    targets = [T("a", 90), T("b", 10)]
    assert pick_target(targets, "k1") == pick_target(targets, "k1")
    assert pick_target([T("only", 100)], None).version == "only"
