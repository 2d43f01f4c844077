"""requirements.lock pins the whole tree every install draws from (`make lock` refreshes it)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LOCKED_EXTRAS = ("dev", "test", "train")


def name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_every_declared_dependency_is_pinned_exactly() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {name(r) for r in project["dependencies"]}
    for extra in LOCKED_EXTRAS:
        declared |= {name(r) for r in project["optional-dependencies"][extra]}
    infra = (ROOT / "infra" / "requirements.txt").read_text().splitlines()
    declared |= {name(line) for line in infra if line.strip() and not line.startswith("#")}
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            pkg, _, version = line.partition("==")
            pins[name(pkg)] = version.strip()
    missing = sorted(d for d in declared if d not in pins)
    assert not missing, f"not in requirements.lock (run `make lock`): {missing}"
    assert all(re.fullmatch(r"[0-9][0-9a-z.+]*", v) for v in pins.values()), "every line an exact pin"
    assert pins["torch"].endswith("+cpu")  # the CPU-only build, never the CUDA one and its nvidia-* wheels
    assert not any(p.startswith("nvidia-") for p in pins)


def test_make_run_installs_neither_training_nor_infra_packages() -> None:
    makefile = (ROOT / "Makefile").read_text()
    install = makefile[makefile.index("$(VENV)/.installed:"):].split("\n\n", 1)[0]
    assert "-e '.[dev]'" in install and "train" not in install and "infra" not in install
    assert re.search(r"^run: install$", makefile, re.M)
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert not {name(r) for r in dev} & {"torch", "transformers", "bitsandbytes", "pulumi", "pulumi-azure-native"}
