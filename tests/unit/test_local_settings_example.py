"""The example settings files load into the real Settings and deployment registry."""

from __future__ import annotations

import json
from pathlib import Path

from shared.config import Settings
from shared.deployments import load_registry

ROOT = Path(__file__).resolve().parents[2]


def test_local_settings_example_is_valid_and_has_no_secrets(monkeypatch) -> None:
    values = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    for name, value in values.items():
        assert "key" not in name.lower() or not value, f"{name} must not carry a secret in the example"
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    settings = Settings()
    registry = load_registry(settings)
    assert settings.store == "sqlite" and registry.default().alias == "gpt-4o-mini"
    # two small regions (failover), a frontier and a reasoning-family deployment
    assert [d.tier for d in registry] == ["small", "small", "frontier", "reasoning"]
