"""The local stack's deployments (`llmops dev`, deployments.local.yaml) are all served by the simulator,
including the reasoning-family one, which sits in its own tier so that "auto" routing is unchanged."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from llmops.cli import server
from llmops.devhost import local_deployments
from llmops.simulator import DEFAULT_DEPLOYMENTS
from shared.deployments import Deployment

REPO = Path(__file__).resolve().parents[2]


def _simulator_default() -> set[str]:
    parser = argparse.ArgumentParser()
    server.register(parser.add_subparsers(dest="command"))
    return set(parser.parse_args(["simulator"]).deployments.split(","))


def test_every_local_deployment_is_simulated() -> None:
    dev = [Deployment.model_validate(d) for d in local_deployments("http://127.0.0.1:7072")]
    file = [Deployment.model_validate(d) for d in
            yaml.safe_load((REPO / "deployments.local.yaml").read_text(encoding="utf-8"))["deployments"]]
    for deployments in (dev, file):
        assert {d.deployment for d in deployments} <= set(DEFAULT_DEPLOYMENTS) == _simulator_default()
        reasoning = [d for d in deployments if d.family == "reasoning"]
        assert [(d.alias, d.tier, d.api_version) for d in reasoning] == [("gpt-5-mini", "reasoning", "v1")]
        assert {d.tier for d in deployments if d.family == "chat"} <= {"small", "frontier"}
