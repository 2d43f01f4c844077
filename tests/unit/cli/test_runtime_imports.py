"""`make run` installs the runtime and dev packages only: no runtime module may import a training or
infrastructure package. Every module of shared/, functions/, llmops/, pipelines/runners/ and the entry
point is imported in a fresh interpreter whose import system refuses those packages, as if they were absent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BLOCKED = ("torch", "transformers", "peft", "accelerate", "bitsandbytes", "safetensors", "onnx", "pulumi",
           "pulumi_azure_native", "pulumi_command")
RUNTIME = ("shared", "functions", "llmops", "pipelines/runners")

PROBE = r"""
import importlib, importlib.abc, sys
blocked = set(sys.argv[1].split(","))

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: not a runtime package)", name=name)
        return None

sys.meta_path.insert(0, Absent())
failed = []
for module in sys.argv[2:]:
    try:
        importlib.import_module(module)
    except Exception as exc:
        failed.append(f"{module}: {type(exc).__name__}: {exc}")
print("\n".join(failed))
sys.exit(1 if failed else 0)
"""


def runtime_modules() -> list[str]:
    modules = ["function_app"]
    for top in RUNTIME:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if path.name == "__main__.py":
                continue
            modules.append(".".join(parts[:-1] if path.name == "__init__.py" else parts))
    return modules


def test_no_runtime_module_imports_a_training_or_infra_package() -> None:
    modules = runtime_modules()
    assert len(modules) > 100 and "shared.gateway.pipeline" in modules and "llmops.cli.pipeline" in modules
    done = subprocess.run([sys.executable, "-c", PROBE, ",".join(BLOCKED), *modules], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]


def test_the_hook_really_blocks() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, "json", "json"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and "json: ModuleNotFoundError" in done.stdout
