"""Fitting and honest measurement of the semantic-cache verifier (numpy only).

Used by ``scripts/train_cache_verifier.py`` (to train) and ``bench/semantic_cache.py`` (to report
precision and recall per threshold on held-out folds): every score reported comes from a model
that did not see that pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shared.cache.pair_features import FEATURES
from shared.cache.similarity import is_hit
from shared.cache.verifier import LogisticModel


def fit_logistic(
    rows: np.ndarray, labels: np.ndarray, *, l2: float = 1.0, iterations: int = 50,
    metadata: dict[str, Any] | None = None,
) -> LogisticModel:
    """L2-regularised logistic regression on standardised features, by Newton's method."""
    x = np.asarray(rows, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -40, 40)))
        gradient = z.T @ (p - y) + penalty * w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return LogisticModel(FEATURES, mean, scale, w[:-1], float(w[-1]), dict(metadata or {}))


def fold_ids(labels: np.ndarray, strata: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Stratified fold numbers (by ``strata``, e.g. label x source), reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    out = np.empty(len(labels), dtype=np.int64)
    for value in np.unique(strata):
        members = np.flatnonzero(strata == value)
        rng.shuffle(members)
        out[members] = np.arange(len(members)) % folds
    return out


def out_of_fold_scores(rows: np.ndarray, labels: np.ndarray, folds: np.ndarray, *, l2: float = 1.0) -> np.ndarray:
    scores = np.empty(len(labels))
    for fold in np.unique(folds):
        held_out = folds == fold
        model = fit_logistic(rows[~held_out], labels[~held_out], l2=l2)
        scores[held_out] = model.predict(rows[held_out])
    return scores


def precision_recall(
    cosines: np.ndarray, scores: np.ndarray, labels: np.ndarray, *, floor: float, threshold: float
) -> dict[str, Any]:
    hits = np.array([is_hit(c, s, floor=floor, threshold=threshold) for c, s in zip(cosines, scores, strict=True)])
    true_hits = int(np.sum(hits & (labels == 1)))
    positives = int(np.sum(labels == 1))
    return {
        "threshold": threshold,
        "hits": int(hits.sum()),
        "precision": true_hits / int(hits.sum()) if hits.any() else None,
        "recall": true_hits / positives if positives else None,
    }


def table(
    cosines: np.ndarray, scores: np.ndarray, labels: np.ndarray, *, floor: float, thresholds: Sequence[float]
) -> list[dict[str, Any]]:
    return [precision_recall(cosines, scores, labels, floor=floor, threshold=t) for t in thresholds]


def load_pairs(path: Any) -> list[dict[str, Any]]:
    """JSON lines with ``a``, ``b``, ``label`` (1 = same meaning) and optionally ``source``."""
    import json
    from pathlib import Path

    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        if not isinstance(item.get("a"), str) or not isinstance(item.get("b"), str) or item.get("label") not in (0, 1):
            raise ValueError(f"{path}:{number}: a pair needs string 'a', 'b' and label 0 or 1")
        rows.append(item)
    return rows


def choose_threshold(
    cosines: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    *,
    floor: float,
    target_precision: float,
    min_hits: int = 20,
) -> float:
    """The lowest threshold whose hits reach ``target_precision`` (most recall at that precision)."""
    for threshold in np.round(np.arange(0.30, 1.0, 0.01), 2):
        row = precision_recall(cosines, scores, labels, floor=floor, threshold=float(threshold))
        if row["hits"] >= min_hits and row["precision"] is not None and row["precision"] >= target_precision:
            return float(threshold)
    return 0.99


def nested_threshold_check(
    cosines: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    folds: np.ndarray,
    *,
    floor: float,
    target_precision: float,
) -> dict[str, Any]:
    """Choose the threshold on the other folds, measure on the held-out fold, pool the hits: an honest
    estimate of what the chosen threshold does on pairs it was not chosen on."""
    hits = np.zeros(len(labels), dtype=bool)
    chosen = []
    for fold in np.unique(folds):
        held_out = folds == fold
        threshold = choose_threshold(
            cosines[~held_out], scores[~held_out], labels[~held_out], floor=floor, target_precision=target_precision
        )
        chosen.append(threshold)
        hits[held_out] = [
            is_hit(c, s, floor=floor, threshold=threshold)
            for c, s in zip(cosines[held_out], scores[held_out], strict=True)
        ]
    true_hits = int(np.sum(hits & (labels == 1)))
    return {
        "thresholds": chosen,
        "hits": int(hits.sum()),
        "precision": true_hits / int(hits.sum()) if hits.any() else None,
        "recall": true_hits / int(np.sum(labels == 1)),
    }


def feature_rows(pairs: Sequence[dict[str, Any]], cache_dir: Any = None) -> np.ndarray:
    """``pair_features`` rows for labelled pairs with all-MiniLM-L6-v2 (~80 s for 5k pairs on 2 cores),
    kept in ``cache_dir`` under a hash of the texts so that training and benchmarks compute them once."""
    import hashlib
    import json
    from pathlib import Path

    key = hashlib.sha256(json.dumps([[p["a"], p["b"]] for p in pairs]).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"features-{key}.npy" if cache_dir else None
    if path is not None and path.exists():
        cached: np.ndarray = np.load(path)
        return cached
    from shared.cache.verifier import FeatureVerifier
    from shared.embeddings.minilm import shared_encoder

    rows = FeatureVerifier(shared_encoder(), None, same_space=False).features([(p["a"], p["b"]) for p in pairs])
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, rows)
    return rows
