"""The evaluator's chat model over an (Azure) OpenAI client, e.g. one from
``shared.embeddings.azure_openai.azure_openai_client`` pointed at Azure or at the simulator."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from shared.prompts.evaluation import Completion


class OpenAIChatModel:
    """The evaluator's ``ChatModel`` over an (Azure) OpenAI client; aliases map to deployment names."""

    def __init__(self, client: Any, deployments: Mapping[str, str] | None = None) -> None:
        self.client = client
        self.deployments = dict(deployments or {})

    async def complete(self, model_alias: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        started = time.perf_counter()
        response = await self.client.chat.completions.create(
            model=self.deployments.get(model_alias, model_alias), messages=messages, **params
        )
        latency = time.perf_counter() - started
        text = (response.choices[0].message.content or "") if response.choices else ""
        usage = response.usage.model_dump() if response.usage is not None else {}
        return Completion(text, usage, latency)

    async def close(self) -> None:
        await self.client.close()
