from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.prompts.files import PromptFile, parse_prompt_text
from shared.prompts.registry import PromptRegistry
from shared.store.sqlite import SqliteDocumentStore


def prompt_file(name: str = "faq", system: str = "You answer FAQs for {{ company }}.", **extra: str) -> PromptFile:
    text = (
        f"name: {name}\n"
        "template:\n"
        f'  - role: system\n    content: "{system}"\n'
        '  - role: user\n    content: "{{ question }}"\n'
        "variables:\n  company: {type: string, default: Contoso}\n  question: string\n"
        "model: {temperature: 0, max_tokens: 64}\n"
    )
    return parse_prompt_text(text, f"prompts/{name}.yaml")


class Clock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[PromptRegistry]:
    store = SqliteDocumentStore(tmp_path / "prompts.sqlite3")
    await store.open()
    try:
        yield PromptRegistry(store, clock=Clock())
    finally:
        await store.close()
