"""Backend kind ``openai``: an OpenAI-compatible server at the deployment's ``endpoint`` (``.../v1``).

For example vLLM serving a fine-tuned candidate on an Azure ML online endpoint. With ``auth: entra``
the bearer token (scope ``token_scope``, e.g. ``https://ml.azure.com/.default``) is fetched per call.
"""

from __future__ import annotations

from typing import Any

from openai import AsyncOpenAI

from shared.backends.json_post import Target
from shared.backends.openai_sdk import OpenAISdkBackend
from shared.deployments import Deployment


class OpenAICompatibleBackend(OpenAISdkBackend):
    def _new_client(self, deployment: Deployment, common: dict[str, Any]) -> AsyncOpenAI:
        if deployment.auth == "key":
            return AsyncOpenAI(base_url=deployment.endpoint, api_key=deployment.api_key or "unused", **common)
        return AsyncOpenAI(base_url=deployment.endpoint, api_key=self.token_provider(deployment), **common)

    def _target(self, deployment: Deployment, path: str) -> Target:
        return self._bearer_target(deployment, deployment.endpoint, path)
