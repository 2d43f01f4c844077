"""Backend kind ``azure``: Azure OpenAI deployments (``/openai/deployments/{deployment}/...?api-version=``).

With ``api_version: v1`` the deployment is called on Azure OpenAI's v1 API instead
(``{endpoint}/openai/v1/chat/completions``, the deployment named as ``model``, no ``api-version``).

Authenticated with an Entra ID token provider (the Function App's managed identity) in Azure, or with
a key for the local simulator and keyed endpoints (``auth: key``).
"""

from __future__ import annotations

from typing import Any

from openai import AsyncAzureOpenAI, AsyncOpenAI

from shared.backends.openai_sdk import OpenAISdkBackend, TokenProvider
from shared.deployments import Deployment

V1 = "v1"


def azure_client(endpoint: str, api_version: str, credential: str | TokenProvider, **common: Any) -> AsyncOpenAI:
    """The SDK client for an Azure OpenAI endpoint: the v1 API (``api_version`` "v1") or a dated version;
    ``credential`` is an API key or an Entra ID bearer-token provider."""
    if api_version == V1:
        return AsyncOpenAI(base_url=f"{endpoint.rstrip('/')}/openai/v1/", api_key=credential, **common)
    if isinstance(credential, str):
        return AsyncAzureOpenAI(azure_endpoint=endpoint, api_version=api_version, api_key=credential, **common)
    return AsyncAzureOpenAI(azure_endpoint=endpoint, api_version=api_version, azure_ad_token_provider=credential,
                            **common)


class AzureOpenAIBackend(OpenAISdkBackend):
    def _new_client(self, deployment: Deployment, common: dict[str, Any]) -> AsyncOpenAI:
        credential = (deployment.api_key or "unused") if deployment.auth == "key" else self.token_provider(deployment)
        return azure_client(deployment.endpoint, deployment.api_version, credential, **common)
