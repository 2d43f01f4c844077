"""Shared setup of the semantic-cache benchmarks: the labelled question pairs, their verifier
features (computed once, cached under .llmops/bench-cache), and the gateway's BLAS setting."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.cache.verifier_fit import feature_rows, load_pairs  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.guardrails.service import limit_blas_threads  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "paraphrase" / "dev.jsonl"
CACHE_DIR = ROOT / ".llmops" / "bench-cache"


def prepare(data: Path) -> tuple[Settings, list[dict]] | None:
    """The settings and the pairs, or None (after saying why) when the data is missing."""
    if not data.exists():
        print(f"no data at {data}: pass --data PAIRS.jsonl", file=sys.stderr)
        return None
    settings = Settings()
    # As in the gateway process (GuardrailService.from_settings): one BLAS thread. Small matrix products
    # gain nothing from more, and waiting for a busy core made the tail ten times the median.
    limit_blas_threads(settings.guardrails_blas_threads)
    return settings, load_pairs(data)


def features(pairs: list[dict]) -> np.ndarray:
    return feature_rows(pairs, CACHE_DIR)


def cached_array(name: str, key: str, compute) -> np.ndarray:
    import hashlib

    path = CACHE_DIR / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npy"
    if path.exists():
        return np.load(path)
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, value)
    return value
