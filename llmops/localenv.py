"""One view of the local stack for every command: the same data directory and deployments as ``llmops dev``.

``llmops dev`` (what ``make run`` runs) writes the settings it applied to ``<data dir>/dev-settings.json``;
the ``llmops`` console script reads them back (anything exported in the shell wins), so ``llmops keys list``,
``llmops prompts eval --model gpt-4o-mini`` and the rest see the gateway's store and deployments. In a
checkout, the data directory is the checkout's ``.llmops/`` whatever the current directory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

DEV_SETTINGS_FILE = "dev-settings.json"
_DEPLOYMENT_VARIABLES = ("LLMOPS_DEPLOYMENTS_JSON", "LLMOPS_DEPLOYMENTS_FILE")


def checkout_root() -> Path | None:
    """The repository this package runs from (an editable install), else None (an installed wheel)."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "function_app.py").is_file() else None


def default_data_dir() -> Path:
    """``LLMOPS_DATA_DIR`` if set, else the checkout's ``.llmops/``, else ``./.llmops``."""
    if os.environ.get("LLMOPS_DATA_DIR"):
        return Path(os.environ["LLMOPS_DATA_DIR"])
    root = checkout_root()
    return root / ".llmops" if root else Path(".llmops")


def write_dev_settings(data_dir: Path, values: Mapping[str, str]) -> Path:
    """Record the settings ``llmops dev`` runs with, for the commands run beside it."""
    path = data_dir / DEV_SETTINGS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(values), indent=2) + "\n", encoding="utf-8")
    return path


def dev_settings(data_dir: Path) -> dict[str, str]:
    path = data_dir / DEV_SETTINGS_FILE
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: str(v) for k, v in values.items() if k.startswith("LLMOPS_")} if isinstance(values, dict) else {}


def apply_cli_environment(argv: Sequence[str], environ: dict[str, str] | None = None) -> None:
    """Default ``LLMOPS_DATA_DIR`` and the local stack's settings into the environment (exported values win).

    ``llmops dev`` computes its own settings, so it does not read the file it writes."""
    env = os.environ if environ is None else environ
    data_dir = Path(env["LLMOPS_DATA_DIR"]) if env.get("LLMOPS_DATA_DIR") else default_data_dir()
    env.setdefault("LLMOPS_DATA_DIR", str(data_dir))
    if next((a for a in argv if not a.startswith("-")), None) == "dev":
        return
    values = dev_settings(data_dir)
    if any(env.get(name) for name in _DEPLOYMENT_VARIABLES):  # the user's own deployments: none of the local ones
        values = {k: v for k, v in values.items() if k not in _DEPLOYMENT_VARIABLES}
    for key, value in values.items():
        env.setdefault(key, value)
