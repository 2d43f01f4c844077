from __future__ import annotations

import os
import warnings
from collections.abc import Iterator

import pytest

# Tests never talk to Azure: make sure nothing in the environment points them there.
os.environ.pop("APPLICATIONINSIGHTS_CONNECTION_STRING", None)
os.environ.setdefault("LLMOPS_TELEMETRY_LOCAL_EXPORTER", "none")
warnings.filterwarnings("ignore", message="Unverified HTTPS request")


@pytest.fixture(scope="session")
def cosmos_endpoint() -> Iterator[str]:
    from tests.support.services import cosmos_server

    with cosmos_server() as endpoint:
        yield endpoint
