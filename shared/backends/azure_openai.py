"""Backend kind ``azure``: Azure OpenAI deployments (``/openai/deployments/{deployment}/...?api-version=``).

With ``api_version: v1`` the deployment is called on Azure OpenAI's v1 API instead
(``{endpoint}/openai/v1/chat/completions``, the deployment named as ``model``, no ``api-version``).

Authenticated with an Entra ID token provider (the Function App's managed identity) in Azure, or with
a key for the local simulator and keyed endpoints (``auth: key``).
"""

from __future__ import annotations

from typing import Any

from openai import AsyncAzureOpenAI, AsyncOpenAI

from shared.backends.json_post import Target, TokenProvider
from shared.backends.openai_sdk import OpenAISdkBackend
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

    def _target(self, deployment: Deployment, path: str) -> Target:
        if deployment.api_version == V1:  # {endpoint}/openai/v1{path}, the deployment as the body's model
            return self._bearer_target(deployment, f"{deployment.endpoint.rstrip('/')}/openai/v1", path)
        # the SDK's URL for a deployment route: {endpoint}/openai/deployments/{deployment}{path}?api-version=
        url = (f"{deployment.endpoint.rstrip('/')}/openai/deployments/{deployment.deployment}{path}"
               f"?api-version={deployment.api_version}")
        headers = {"content-type": "application/json", **deployment.headers}
        if deployment.auth == "key":
            return Target(url, {**headers, "api-key": deployment.api_key or "unused"})
        return Target(url, headers, token=self.token_provider(deployment))
