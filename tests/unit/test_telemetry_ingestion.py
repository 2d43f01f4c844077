"""Telemetry goes to Application Insights with an Entra ID token when local auth is off."""

from __future__ import annotations

from shared.config import Settings
from shared.observability.telemetry import _ingestion_credential


def test_entra_ingestion_only_when_the_authentication_string_asks_for_it():
    assert _ingestion_credential(Settings()) == {}
    credential = _ingestion_credential(Settings(applicationinsights_authentication_string="Authorization=AAD"))
    from azure.identity import ManagedIdentityCredential

    assert isinstance(credential["credential"], ManagedIdentityCredential)
