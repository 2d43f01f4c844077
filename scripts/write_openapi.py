"""Write the OpenAPI document the app serves to ``openapi.json`` at the repository root (checked in;
``tests/unit/test_openapi.py`` compares the two).

    python scripts/write_openapi.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import function_app  # noqa: E402, F401 - registers every blueprint, so the routes are known
from functions.openapi import CHECKED_IN, document_bytes  # noqa: E402


def main() -> int:
    CHECKED_IN.write_bytes(document_bytes())
    sys.stdout.write(f"wrote {CHECKED_IN}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
