"""``llmops sources add|sync|list|rm`` on a SQLite store in a temporary data dir (local embedder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmops.cli import main
from shared.config import reset_settings_cache

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LLMOPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLMOPS_STORE", "sqlite")
    reset_settings_cache()
    yield
    reset_settings_cache()


def test_add_sync_list_and_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "docs"
    (docs / "policies").mkdir(parents=True)
    (docs / "faq.md").write_text("# Returns\n\nReturns are free within 30 days.\n")
    (docs / "policies" / "warranty.html").write_text("<h1>Warranty</h1><p>Two years on every device.</p>")
    (docs / ".draft.md").write_text("# hidden\n\nnot synced\n")
    catalog = REPO / "policies" / "catalogs" / "contoso-products.json"
    assert main(["sources", "add", "support", str(docs), str(catalog), "--tenant", "contoso",
                 "--description", "FAQ"]) == 0
    out = capsys.readouterr().out
    assert "support: revision 1, 3 files" in out and "added      policies/warranty.html: 1 chunks" in out
    assert "contoso-products.json: 3 chunks" in out

    assert main(["sources", "sync", "support", "--tenant", "contoso"]) == 0
    assert out.count("added") == 3 and "unchanged  faq.md (1 chunks)" in capsys.readouterr().out

    (docs / "faq.md").write_text("# Returns\n\nReturns are free within 60 days.\n")
    (docs / "policies" / "broken.csv").write_text("id,name,price\na,A,1\nb,B,lots\n")
    assert main(["sources", "sync", "support", "--tenant", "contoso", "--json"]) == 3  # a file failed to parse
    report = json.loads(capsys.readouterr().out)
    by_path = {f["path"]: f for f in report["files"]}
    assert by_path["faq.md"]["status"] == "updated" and by_path["faq.md"]["embedded"] == 1
    assert by_path["policies/broken.csv"]["error"].startswith("policies/broken.csv:3: ")

    assert main(["sources", "list", "--tenant", "contoso"]) == 0
    listing = capsys.readouterr().out
    assert "contoso/support: 4 files, 5 chunks, revision 2" in listing
    assert "problem: policies/broken.csv:3:" in listing
    assert main(["sources", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["chunks"] == 5

    assert main(["sources", "add", "support", str(docs), "--tenant", "contoso"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["sources", "add", "Bad Name", str(docs), "--tenant", "contoso"]) == 2
    assert "invalid source name" in capsys.readouterr().err
    assert main(["sources", "add", "other", str(tmp_path / "nope"), "--tenant", "contoso"]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["sources", "rm", "support", "--tenant", "contoso"]) == 0
    assert "5 chunks deleted" in capsys.readouterr().out
    assert main(["sources", "rm", "support", "--tenant", "contoso"]) == 2
    assert main(["sources", "list"]) == 0 and "no grounding sources" in capsys.readouterr().out
