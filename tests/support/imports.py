"""The project's import graph, read from the source (nothing is imported): for the structure tests."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("shared", "functions", "pipelines")


def project_modules() -> dict[str, Path]:
    modules: dict[str, Path] = {"function_app": REPO / "function_app.py"}
    for root in ROOTS:
        for path in (REPO / root).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST, *, runtime_only: bool) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def walk(node: ast.AST) -> None:
        if runtime_only and isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                walk(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            walk(child)

    walk(tree)
    return found


def imported(module: str, path: Path, modules: dict[str, Path], *, runtime_only: bool = False) -> set[str]:
    """The project modules that ``module`` imports (anywhere in the file; ``runtime_only`` leaves out
    ``if TYPE_CHECKING:`` blocks). ``from a.b import c`` names ``a.b.c`` when that is a module, else ``a.b``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path)), runtime_only=runtime_only):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names if alias.name in modules)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            if f"{base}.{alias.name}" in modules:
                out.add(f"{base}.{alias.name}")
            elif base in modules:
                out.add(base)
    out.discard(module)
    return out


def import_graph(*, runtime_only: bool = False) -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported(name, path, modules, runtime_only=runtime_only) for name, path in modules.items()}
