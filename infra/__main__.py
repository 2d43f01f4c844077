"""Pulumi program entry: ``cd infra && pulumi up`` runs this file (see README.md)."""

import sys
from pathlib import Path

# The Pulumi CLI runs this folder as a script; make the repository root importable so that the program
# reads the same catalog, queue names, settings and telemetry names as the application.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi

from infra.config import ConfigError, load_stack_config
from infra.program import build_platform

try:
    outputs = build_platform(load_stack_config(), pulumi.get_stack())
except ConfigError as error:
    # One readable message instead of a traceback: the config is the user's to fix.
    raise SystemExit(f"error: {error}") from None

for name, value in outputs.items():
    pulumi.export(name, value)
