"""The response cache as deployed: Cosmos DB vector search and the embeddings-tier deployment."""

from __future__ import annotations

import pytest

from shared.config import Settings
from tests.infra.conftest import ProgramRun
from tests.infra.test_app_settings import _app_settings


def test_the_cache_uses_cosmos_vectors_and_azure_embeddings(platform: ProgramRun, monkeypatch: pytest.MonkeyPatch):
    for name, value in _app_settings(platform).items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    embeddings = platform.config.openai.first_of_tier("embeddings")
    assert settings.cache_vector_store == "cosmos"
    assert settings.embeddings == "azure"
    assert settings.embeddings_endpoint == platform.outputs["openaiEndpoint"]
    assert settings.embeddings_deployment == embeddings.deployment_name
    assert settings.embeddings_api_version == platform.config.openai.api_version
