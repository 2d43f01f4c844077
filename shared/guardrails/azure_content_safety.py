"""Azure AI Content Safety over its REST API: Prompt Shields, text moderation, groundedness detection.

Used by the injection, toxicity and groundedness checks when ``LLMOPS_CONTENT_SAFETY_ENDPOINT`` is
set (``provider: auto`` in a policy rule; ``provider: local`` keeps a rule local). Auth is Entra ID
(``azure-identity``, the Function App's managed identity, token scope
``https://cognitiveservices.azure.com/.default``); a key (``LLMOPS_CONTENT_SAFETY_KEY``) is accepted
for local experiments only. A failing call raises ``ContentSafetyError`` and the check falls back to
its local detector.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

TOKEN_SCOPE = "https://cognitiveservices.azure.com/.default"
API_VERSION = "2024-09-01"
GROUNDEDNESS_API_VERSION = "2024-09-15-preview"
MAX_TEXT_CHARS = 10_000  # text:analyze limit per call
MAX_SHIELD_CHARS = 10_000  # Prompt Shields: user prompt + documents together
MAX_GROUNDED_TEXT = 7_500
MAX_GROUNDING_SOURCES = 55_000


class ContentSafetyError(RuntimeError):
    pass


class ContentSafetyClient:
    def __init__(
        self,
        endpoint: str,
        *,
        credential: Any = None,
        api_key: str | None = None,
        timeout_s: float = 3.0,
    ) -> None:
        if not credential and not api_key:
            raise ValueError("Content Safety needs an Entra ID credential or a key")
        self.endpoint = endpoint.rstrip("/")
        self._credential = credential
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._token: tuple[str, float] | None = None
        self._token_lock = asyncio.Lock()

    async def _headers(self) -> dict[str, str]:
        if self._api_key:
            return {"Ocp-Apim-Subscription-Key": self._api_key}
        async with self._token_lock:
            if self._token is None or self._token[1] - time.time() < 300:
                token = await self._credential.get_token(TOKEN_SCOPE)
                self._token = (token.token, float(token.expires_on))
            return {"Authorization": f"Bearer {self._token[0]}"}

    async def _post(self, operation: str, body: dict[str, Any], api_version: str = API_VERSION) -> dict[str, Any]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        url = f"{self.endpoint}/contentsafety/{operation}"
        headers = await self._headers()
        try:
            async with self._session.post(
                url, params={"api-version": api_version}, json=body, headers=headers
            ) as reply:
                text = await reply.text()
                if reply.status >= 400:
                    raise ContentSafetyError(f"{operation}: HTTP {reply.status}: {text[:200]}")
                try:
                    return json.loads(text)
                except ValueError as exc:
                    raise ContentSafetyError(f"{operation}: response is not JSON") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ContentSafetyError(f"{operation}: {type(exc).__name__}: {exc}") from exc

    async def shield_prompt(self, user_prompt: str, documents: list[str]) -> dict[str, Any]:
        """Prompt Shields: ``{"userPromptAnalysis": {"attackDetected"}, "documentsAnalysis": [...]}``."""
        budget = MAX_SHIELD_CHARS
        prompt = user_prompt[:budget]
        docs = []
        for document in documents:
            remaining = budget - len(prompt) - sum(len(d) for d in docs)
            if remaining <= 0:
                break
            docs.append(document[:remaining])
        return await self._post("text:shieldPrompt", {"userPrompt": prompt, "documents": docs})

    async def analyze_text(self, text: str, categories: list[str] | None = None) -> dict[str, Any]:
        """Text moderation: ``{"categoriesAnalysis": [{"category", "severity"}, ...]}`` (0, 2, 4, 6)."""
        body: dict[str, Any] = {"text": text[:MAX_TEXT_CHARS], "outputType": "FourSeverityLevels"}
        if categories:
            body["categories"] = categories
        return await self._post("text:analyze", body)

    async def detect_groundedness(self, text: str, sources: list[str], query: str | None = None) -> dict[str, Any]:
        """Groundedness detection: ``{"ungroundedDetected", "ungroundedPercentage", "ungroundedDetails"}``."""
        grounding: list[str] = []
        used = 0
        for source in sources:
            if used >= MAX_GROUNDING_SOURCES:
                break
            grounding.append(source[: MAX_GROUNDING_SOURCES - used])
            used += len(grounding[-1])
        body: dict[str, Any] = {
            "domain": "Generic",
            "task": "QnA" if query else "Summarization",
            "text": text[:MAX_GROUNDED_TEXT],
            "groundingSources": grounding,
            "reasoning": False,
        }
        if query:
            body["qna"] = {"query": query}
        return await self._post("text:detectGroundedness", body, GROUNDEDNESS_API_VERSION)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def content_safety_from_settings(settings: Any) -> ContentSafetyClient | None:
    endpoint = getattr(settings, "content_safety_endpoint", None)
    if not endpoint:
        return None
    key = getattr(settings, "content_safety_key", None)
    credential = None
    if not key:
        from azure.identity.aio import DefaultAzureCredential

        credential = DefaultAzureCredential(managed_identity_client_id=getattr(settings, "azure_client_id", None))
    return ContentSafetyClient(
        endpoint, credential=credential, api_key=key, timeout_s=getattr(settings, "content_safety_timeout_s", 3.0)
    )
