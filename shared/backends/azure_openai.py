"""Backend kind ``azure``: Azure OpenAI deployments (``/openai/deployments/{deployment}/...?api-version=``).

Authenticated with an Entra ID token provider (the Function App's managed identity) in Azure, or with
a key for the local simulator and keyed endpoints (``auth: key``).
"""

from __future__ import annotations

from typing import Any

from openai import AsyncAzureOpenAI, AsyncOpenAI

from shared.backends.json_post import Target
from shared.backends.openai_sdk import OpenAISdkBackend
from shared.deployments import Deployment


class AzureOpenAIBackend(OpenAISdkBackend):
    def _new_client(self, deployment: Deployment, common: dict[str, Any]) -> AsyncOpenAI:
        if deployment.auth == "key":
            return AsyncAzureOpenAI(azure_endpoint=deployment.endpoint, api_version=deployment.api_version,
                                    api_key=deployment.api_key or "unused", **common)
        return AsyncAzureOpenAI(azure_endpoint=deployment.endpoint, api_version=deployment.api_version,
                                azure_ad_token_provider=self.token_provider(deployment), **common)

    def _target(self, deployment: Deployment, path: str) -> Target:
        # the SDK's URL for a deployment route: {endpoint}/openai/deployments/{deployment}{path}?api-version=
        url = (f"{deployment.endpoint.rstrip('/')}/openai/deployments/{deployment.deployment}{path}"
               f"?api-version={deployment.api_version}")
        headers = {"content-type": "application/json", **deployment.headers}
        if deployment.auth == "key":
            return Target(url, {**headers, "api-key": deployment.api_key or "unused"})
        return Target(url, headers, token=self.token_provider(deployment))
