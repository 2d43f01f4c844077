"""Optional dependency groups: a command that needs one that is not installed says which ``make`` target adds it.

``make run`` installs the runtime and dev packages only; the training stack (``make train-deps``) and the
Pulumi program's requirements (``make infra-deps``) install on demand. ``require_extra`` is the one check
every such command and runner makes before it starts, so the message is the same everywhere.
"""

from __future__ import annotations

import importlib.util

# make target -> the top-level modules that target installs (what a caller may ask for)
EXTRAS: dict[str, tuple[str, ...]] = {
    "train-deps": ("torch", "transformers", "peft", "accelerate", "safetensors"),
    "infra-deps": ("pulumi", "pulumi_azure_native", "pulumi_command"),
}


class MissingExtra(RuntimeError):
    """A command needs packages of an optional group that is not installed (the CLI exits with status 2)."""

    expected_retry = True  # the local event runtime logs it as one line; installing the group fixes the retry

    def __init__(self, target: str, missing: list[str], needed_by: str) -> None:
        self.target, self.missing = target, missing
        super().__init__(f"{needed_by} needs {', '.join(missing)}, which `make run` does not install: "
                         f"run `make {target}` in the repository, then try again")


def require_extra(target: str, needed_by: str) -> None:
    """Raise ``MissingExtra`` naming ``make <target>`` when any module of that group cannot be imported."""
    missing = [name for name in EXTRAS[target] if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtra(target, missing, needed_by)
