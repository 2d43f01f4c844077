"""The statistics the monitors use: proportions and means compared between two windows, percentiles,
a population-stability index over clusters, centroid distance. Pure functions over plain numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

EPSILON = 1e-4  # share floor in the PSI, so an empty cluster does not make it infinite


def proportion_z(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float:
    """Two-proportion z statistic of (b - a) with the pooled variance; 0 when either side is empty."""
    if n_a == 0 or n_b == 0:
        return 0.0
    pooled = (hits_a + hits_b) / (n_a + n_b)
    variance = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    if variance <= 0:
        return 0.0
    return (hits_b / n_b - hits_a / n_a) / math.sqrt(variance)


def mean_z(a: Sequence[float], b: Sequence[float]) -> float:
    """Welch's t statistic of mean(b) - mean(a) (a z for the sample sizes monitors use)."""
    if len(a) < 2 or len(b) < 2:
        return 0.0
    va, vb = float(np.var(a, ddof=1)), float(np.var(b, ddof=1))
    se = math.sqrt(va / len(a) + vb / len(b))
    if se == 0:
        return 0.0 if float(np.mean(a)) == float(np.mean(b)) else math.copysign(math.inf, np.mean(b) - np.mean(a))
    return (float(np.mean(b)) - float(np.mean(a))) / se


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else 0.0


def psi(reference_shares: np.ndarray, current_shares: np.ndarray) -> float:
    """Population-stability index: sum((c - r) * ln(c / r)); < 0.1 stable, > 0.25 a real shift."""
    r = np.maximum(reference_shares, EPSILON)
    c = np.maximum(current_shares, EPSILON)
    return float(np.sum((c - r) * np.log(c / r)))


def centroid_distance(a: np.ndarray, b: np.ndarray) -> float:
    """1 - cosine similarity of the two sets' mean vectors."""
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    norm = float(np.linalg.norm(ca) * np.linalg.norm(cb))
    return 0.0 if norm == 0 else 1.0 - float(ca @ cb) / norm


def kmeans(vectors: np.ndarray, k: int, *, iterations: int = 25, seed: int = 0) -> np.ndarray:
    """Cluster centres (k-means++ seeding, Lloyd iterations); deterministic for a seed."""
    rng = np.random.default_rng(seed)
    k = max(1, min(k, len(vectors)))
    centres = [vectors[int(rng.integers(len(vectors)))]]
    for _ in range(1, k):
        d2 = np.min(((vectors[:, None, :] - np.asarray(centres)[None, :, :]) ** 2).sum(-1), axis=1)
        total = float(d2.sum())
        if total == 0:
            break
        centres.append(vectors[int(rng.choice(len(vectors), p=d2 / total))])
    result = np.asarray(centres)
    for _ in range(iterations):
        labels = assign(vectors, result)
        moved = np.asarray([vectors[labels == j].mean(axis=0) if np.any(labels == j) else result[j]
                            for j in range(len(result))])
        if np.allclose(moved, result):
            break
        result = moved
    return result


def assign(vectors: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The nearest centre of each vector."""
    labels: np.ndarray = np.argmin(((vectors[:, None, :] - centres[None, :, :]) ** 2).sum(-1), axis=1)
    return labels


def shares(labels: np.ndarray, k: int, prior: float = 0.5) -> np.ndarray:
    """Each cluster's share, smoothed by ``prior`` counts (Jeffreys): a cluster nearly empty on one side
    does not dominate the PSI through its logarithm."""
    counts: np.ndarray = np.bincount(labels, minlength=k).astype(float) + prior
    return counts / float(counts.sum())


def tail_probability(z: float) -> float:
    """One-sided normal tail P(Z >= z): the significance a z threshold stands for."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def binomial_tail(hits: int, n: int, p: float) -> float:
    """P(X >= hits) for X ~ Binomial(n, p), exact (log-space sum): right for the small counts of rare events."""
    if hits <= 0:
        return 1.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q
             for k in range(hits, n + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def chi2_quantile(df: int, z: float) -> float:
    """The chi-square quantile with upper tail ``tail_probability(z)`` (Wilson-Hilferty)."""
    h = 2 / (9 * df)
    return float(df * (1 - h + z * math.sqrt(h)) ** 3)
