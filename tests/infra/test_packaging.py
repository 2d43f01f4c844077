"""The Function App package: reproducible bytes, .funcignore applied, requirements from pyproject."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from llmops.cli import main
from llmops.packaging import (
    FIXED_DATE_TIME,
    PackagingError,
    build_package,
    package_files,
    requirements_from_pyproject,
)
from tests.infra.conftest import REPO_ROOT, make_function_app_tree

KEPT = {
    "function_app.py",
    "host.json",
    "requirements.txt",
    "functions/__init__.py",
    "functions/gateway.py",
    "shared/__init__.py",
    "shared/core.py",
    "pipelines/train.py",
    "prompts/support.yaml",
}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_function_app_tree(tmp_path / "repo")


def test_two_builds_are_byte_identical_even_after_touching_files(tree: Path, tmp_path: Path):
    first = build_package(tree, tmp_path / "a.zip")
    for path in tree.rglob("*"):
        if path.is_file():
            os.utime(path, (1_900_000_000, 1_900_000_000))
    second = build_package(tree, tmp_path / "b.zip")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256
    assert first.size_bytes == first.path.stat().st_size


def test_package_holds_the_app_and_nothing_else(tree: Path, tmp_path: Path):
    result = build_package(tree, tmp_path / "app.zip")
    with zipfile.ZipFile(result.path) as archive:
        entries = archive.namelist()
        assert set(entries) == KEPT
        assert entries == sorted(entries)
        assert {info.date_time for info in archive.infolist()} == {FIXED_DATE_TIME}
        assert archive.read("shared/core.py") == b"VALUE = 1\n"
    for excluded in (
        "tests/",
        "bench/",
        "infra/",
        "llmops/",
        "docs/",
        ".venv/",
        ".llmops/",
        "node_modules/",
        "dist/",
    ):
        assert not [e for e in entries if e.startswith(excluded)], excluded
    assert not [e for e in entries if e.endswith((".md", ".pyc")) or "__pycache__" in e]


def test_requirements_are_generated_from_pyproject_runtime_dependencies(tree: Path, tmp_path: Path):
    result = build_package(tree, tmp_path / "app.zip")
    with zipfile.ZipFile(result.path) as archive:
        requirements = archive.read("requirements.txt").decode()
    assert requirements == requirements_from_pyproject(tree / "pyproject.toml")
    lines = [line for line in requirements.splitlines() if not line.startswith("#")]
    assert any(line.startswith("azure-functions") for line in lines)
    assert "stale==0.0.1" not in requirements  # the file on disk never wins over pyproject
    assert not [line for line in lines if line.startswith(("pulumi", "pytest", "ruff"))]  # extras stay out


def test_default_output_is_not_packaged_into_itself(tree: Path):
    build_package(tree)  # dist/function-app.zip inside the tree
    result = build_package(tree)
    assert not [name for name in result.files if name.endswith(".zip")]


def test_a_tree_without_a_function_app_is_refused(tree: Path, tmp_path: Path):
    (tree / "host.json").unlink()
    with pytest.raises(PackagingError, match=r"missing host\.json"):
        build_package(tree, tmp_path / "app.zip")


def test_the_repository_funcignore_keeps_only_deployable_code():
    files = package_files(REPO_ROOT)
    assert "shared/config.py" in files
    assert not [f for f in files if f.split("/")[0] in {"tests", "infra", "llmops", "bench", ".venv", "docs"}]
    assert not [f for f in files if f.endswith(".md")]


def test_cli_builds_the_package(tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    output = tmp_path / "cli.zip"
    assert main(["package", "--root", str(tree), "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert str(output) in printed and "sha256" in printed
    assert zipfile.ZipFile(output).namelist() == sorted(KEPT)


def test_cli_reports_a_bad_root_as_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["package", "--root", str(tmp_path), "--output", str(tmp_path / "x.zip")]) == 1
    assert "not a Function App root" in capsys.readouterr().err
