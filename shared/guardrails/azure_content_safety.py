"""Azure adapters for the guardrails, over the services' REST APIs.

- Azure AI Content Safety (``LLMOPS_CONTENT_SAFETY_ENDPOINT``): Prompt Shields, text moderation and
  groundedness detection, for the injection, toxicity and groundedness checks;
- Azure AI Language (``LLMOPS_LANGUAGE_ENDPOINT``): PII entity recognition, for the pii check.

A rule uses its service when the endpoint is set (``provider: auto``; ``provider: local`` keeps it
local). Auth is Entra ID (``azure-identity``, the Function App's managed identity, token scope
``https://cognitiveservices.azure.com/.default``); a key (``LLMOPS_CONTENT_SAFETY_KEY`` /
``LLMOPS_LANGUAGE_KEY``) is accepted for local experiments only. A failing call raises
``ContentSafetyError`` and the check falls back to its local detector.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from shared.config import GuardrailSettings

TOKEN_SCOPE = "https://cognitiveservices.azure.com/.default"
API_VERSION = "2024-09-01"
GROUNDEDNESS_API_VERSION = "2024-09-15-preview"
MAX_TEXT_CHARS = 10_000  # text:analyze limit per call
MAX_SHIELD_CHARS = 10_000  # Prompt Shields: user prompt + documents together
MAX_GROUNDED_TEXT = 7_500
MAX_GROUNDING_SOURCES = 55_000


class ContentSafetyError(RuntimeError):
    pass


class CognitiveServiceClient:
    """The REST plumbing both services share: auth headers, one aiohttp session, errors."""

    service = "Azure AI service"

    def __init__(
        self,
        endpoint: str,
        *,
        credential: Any = None,
        api_key: str | None = None,
        timeout_s: float = 3.0,
    ) -> None:
        if not credential and not api_key:
            raise ValueError(f"{self.service} needs an Entra ID credential or a key")
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

    async def _post(self, operation: str, body: dict[str, Any], api_version: str) -> dict[str, Any]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        url = f"{self.endpoint}/{operation}"
        headers = await self._headers()
        try:
            async with self._session.post(
                url, params={"api-version": api_version}, json=body, headers=headers
            ) as reply:
                text = await reply.text()
                if reply.status >= 400:
                    raise ContentSafetyError(f"{operation}: HTTP {reply.status}: {text[:200]}")
                try:
                    parsed: dict[str, Any] = json.loads(text)
                    return parsed
                except ValueError as exc:
                    raise ContentSafetyError(f"{operation}: response is not JSON") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ContentSafetyError(f"{operation}: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class ContentSafetyClient(CognitiveServiceClient):
    service = "Azure AI Content Safety"

    async def shield_prompt(self, user_prompt: str, documents: list[str]) -> dict[str, Any]:
        """Prompt Shields: ``{"userPromptAnalysis": {"attackDetected"}, "documentsAnalysis": [...]}``."""
        budget = MAX_SHIELD_CHARS
        prompt = user_prompt[:budget]
        docs: list[str] = []
        for document in documents:
            remaining = budget - len(prompt) - sum(len(d) for d in docs)
            if remaining <= 0:
                break
            docs.append(document[:remaining])
        return await self._post("contentsafety/text:shieldPrompt", {"userPrompt": prompt, "documents": docs},
                                API_VERSION)

    async def analyze_text(self, text: str, categories: list[str] | None = None) -> dict[str, Any]:
        """Text moderation: ``{"categoriesAnalysis": [{"category", "severity"}, ...]}`` (0, 2, 4, 6)."""
        body: dict[str, Any] = {"text": text[:MAX_TEXT_CHARS], "outputType": "FourSeverityLevels"}
        if categories:
            body["categories"] = categories
        return await self._post("contentsafety/text:analyze", body, API_VERSION)

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
        return await self._post("contentsafety/text:detectGroundedness", body, GROUNDEDNESS_API_VERSION)


# Azure AI Language PII categories -> the Presidio names the local scanner uses.
LANGUAGE_PII_TYPES = {
    "Person": "PERSON", "PhoneNumber": "PHONE_NUMBER", "Email": "EMAIL_ADDRESS", "Address": "STREET_ADDRESS",
    "IPAddress": "IP_ADDRESS", "CreditCardNumber": "CREDIT_CARD", "USSocialSecurityNumber": "US_SSN",
    "InternationalBankingAccountNumber": "IBAN_CODE", "Organization": "ORGANIZATION", "URL": "URL",
    "DateTime": "DATE_TIME", "USDriversLicenseNumber": "US_DRIVER_LICENSE", "USBankAccountNumber": "US_BANK_NUMBER",
}  # fmt: skip
LANGUAGE_API_VERSION = "2023-04-01"
MAX_LANGUAGE_DOCUMENT_CHARS = 5_000  # synchronous PII: 5,120 characters per document
MAX_LANGUAGE_DOCUMENTS = 5  # and 5 documents per request


class LanguageClient(CognitiveServiceClient):
    service = "Azure AI Language"

    async def recognize_pii(self, text: str) -> list[tuple[str, int, int]]:
        """PII entities as (Presidio type, start, end) in code points; long text goes in 5,000-char pieces."""
        pieces = [text[i : i + MAX_LANGUAGE_DOCUMENT_CHARS] for i in range(0, len(text), MAX_LANGUAGE_DOCUMENT_CHARS)]
        found: list[tuple[str, int, int]] = []
        for first in range(0, len(pieces), MAX_LANGUAGE_DOCUMENTS):
            batch = pieces[first : first + MAX_LANGUAGE_DOCUMENTS]
            body = {
                "kind": "PiiEntityRecognition",
                "parameters": {"modelVersion": "latest", "stringIndexType": "UnicodeCodePoint"},
                "analysisInput": {"documents": [{"id": str(first + i), "language": "en", "text": piece}
                                                for i, piece in enumerate(batch)]},
            }
            result = await self._post("language/:analyze-text", body, LANGUAGE_API_VERSION)
            results = result.get("results") or {}
            if results.get("errors"):
                raise ContentSafetyError(f"analyze-text: {results['errors'][0]}")
            for document in results.get("documents", []):
                offset = int(document["id"]) * MAX_LANGUAGE_DOCUMENT_CHARS
                for entity in document.get("entities", []):
                    kind = LANGUAGE_PII_TYPES.get(entity["category"], str(entity["category"]).upper())
                    start = offset + int(entity["offset"])
                    found.append((kind, start, start + int(entity["length"])))
        return found


def azure_services_from_settings(settings: GuardrailSettings) -> dict[str, CognitiveServiceClient]:
    """The configured Azure services by the name a check asks for (``Check.azure_service``)."""
    services: dict[str, CognitiveServiceClient] = {}
    credential = None
    for name, cls in (("content_safety", ContentSafetyClient), ("language", LanguageClient)):
        endpoint = getattr(settings, f"{name}_endpoint", None)
        if not endpoint:
            continue
        key = getattr(settings, f"{name}_key", None)
        if not key and credential is None:
            from azure.identity.aio import DefaultAzureCredential

            credential = DefaultAzureCredential(managed_identity_client_id=getattr(settings, "azure_client_id", None))
        services[name] = cls(endpoint, credential=None if key else credential, api_key=key,
                             timeout_s=getattr(settings, "content_safety_timeout_s", 3.0))
    return services
