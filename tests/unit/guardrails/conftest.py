import json
from pathlib import Path

import pytest

CATALOG = {
    "products": [
        {
            "id": "x1",
            "name": "Acme X1",
            "aliases": ["X1"],
            "price": 299.0,
            "currency": "USD",
            "availability": "in_stock",
            "specs": {"battery life": "10 hours", "storage": "128 GB", "memory": "8 GB"},
        },
        {
            "id": "x9",
            "name": "Acme X9 Pro",
            "price": 899.0,
            "availability": "out_of_stock",
            "specs": {"weight": "1.4 kg"},
        },
    ]
}

POLICY = """
name: strict
description: test policy
input:
  - {check: pii, action: redact}
  - {check: injection, action: block, threshold: 0.5}
  - {check: toxicity, action: flag, threshold: 0.6}
  - check: topics
    action: flag
    threshold: 0.5
    options: {allowed: ["laptops, orders, prices and deliveries"]}
output:
  - {check: pii, action: redact}
  - {check: toxicity, action: block, threshold: 0.8}
  - {check: groundedness, action: flag, threshold: 0.6}
  - {check: product_claims, action: block, options: {catalog: catalogs/acme.json}}
"""

DEFAULT = """
name: default
input:
  - {check: pii, action: flag}
output:
  - {check: pii, action: block}
"""


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    (root / "guardrails").mkdir(parents=True)
    (root / "catalogs").mkdir()
    (root / "catalogs" / "acme.json").write_text(json.dumps(CATALOG))
    (root / "guardrails" / "strict.yaml").write_text(POLICY)
    (root / "guardrails" / "default.yaml").write_text(DEFAULT)
    (root / "guardrails" / "bindings.yaml").write_text('"acme/support": strict\n')
    return root / "guardrails"
