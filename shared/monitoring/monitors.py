"""The monitors: pure functions of (current window, reference window, thresholds) -> ``MonitorResult``.

A window holds request-log records and feedback documents of one app (and, for topic drift, the
embeddings of its prompts and answers, in the order of ``vector_ids``). Every result says what moved
and names example request ids of the current window that show it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shared.monitoring import stats
from shared.monitoring.definitions import ALARM, BY_KEY, MONITORS, NO_DATA, OK

Record = Mapping[str, Any]
EXAMPLES = 5
_REFUSAL = re.compile(r"\b(I'?m sorry|I am sorry|I can(?:no|')t (?:help|assist|do that)|I'?m (?:not able|unable) to|"
                      r"I am (?:not able|unable) to|I won'?t be able to)", re.IGNORECASE)


@dataclass
class Window:
    start: float
    end: float
    requests: list[Record] = field(default_factory=list)
    feedback: list[Record] = field(default_factory=list)
    prompt_vectors: np.ndarray | None = None
    answer_vectors: np.ndarray | None = None
    vector_ids: list[str] = field(default_factory=list)


@dataclass
class MonitorResult:
    monitor: str
    status: str  # ok | alarm | no_data
    value: float | None = None
    reference: float | None = None
    moved: str = ""
    examples: list[str] = field(default_factory=list)
    n_current: int = 0
    n_reference: int = 0

    def to_doc(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "status": self.status, "value": self.value, "reference": self.reference,
                "moved": self.moved, "examples": self.examples, "n_current": self.n_current,
                "n_reference": self.n_reference}


def is_refusal(record: Record) -> bool:
    if record.get("outcome") == "guardrail_blocked" or "content_filter" in (record.get("finish_reasons") or ()):
        return True
    if any(v.get("action") == "block" for v in record.get("guardrails") or () if isinstance(v, Mapping)):
        return True
    completion = str((record.get("transcript") or {}).get("completion") or "")
    return bool(_REFUSAL.search(completion[:300]))


def _succeeded(record: Record) -> bool:
    return int(record.get("status") or 0) < 400


def _no_data(key: str, n_current: int, n_reference: int) -> MonitorResult:
    return MonitorResult(key, NO_DATA, n_current=n_current, n_reference=n_reference,
                         moved=f"too little traffic: {n_current} now, {n_reference} in the reference")


def _rate(key: str, current: Sequence[Record], reference: Sequence[Record], hit: Callable[[Record], bool],
          t: Mapping[str, float]) -> MonitorResult:
    if min(len(current), len(reference)) < t["min_samples"]:
        return _no_data(key, len(current), len(reference))
    hits_now = [r for r in current if hit(r)]
    hits_ref = sum(1 for r in reference if hit(r))
    now, before = len(hits_now) / len(current), hits_ref / len(reference)
    # exact binomial tail of the current count under the reference rate (smoothed: rare events have few hits)
    p_value = stats.binomial_tail(len(hits_now), len(current), (hits_ref + 1) / (len(reference) + 2))
    alarm = now - before >= t["min_delta"] and p_value <= stats.tail_probability(t["z"])
    return MonitorResult(key, ALARM if alarm else OK, now, before, f"{before:.1%} -> {now:.1%} (p={p_value:.2g})",
                         [str(r["id"]) for r in hits_now[-EXAMPLES:]], len(current), len(reference))


def _mean_rise(key: str, current: Sequence[Record], reference: Sequence[Record], value: Callable[[Record], float],
               t: Mapping[str, float]) -> MonitorResult:
    now_rows = [r for r in current if _succeeded(r)]
    ref_values = [value(r) for r in reference if _succeeded(r)]
    if min(len(now_rows), len(ref_values)) < t["min_samples"]:
        return _no_data(key, len(now_rows), len(ref_values))
    now_values = [value(r) for r in now_rows]
    now, before = float(np.mean(now_values)), float(np.mean(ref_values))
    z = stats.mean_z(ref_values, now_values)
    alarm = now >= before * (1 + t["rise"]) and z >= t["z"] and now > 0
    top = sorted(now_rows, key=value, reverse=True)[:EXAMPLES]
    return MonitorResult(key, ALARM if alarm else OK, now, before, f"{before:.6g} -> {now:.6g} (z={z:.1f})",
                         [str(r["id"]) for r in top], len(now_rows), len(ref_values))


def _p95_rise(key: str, current: Sequence[Record], reference: Sequence[Record], field_name: str,
              t: Mapping[str, float]) -> MonitorResult:
    now_rows = [r for r in current if r.get(field_name) is not None]
    ref_values = [float(r[field_name]) for r in reference if r.get(field_name) is not None]
    if min(len(now_rows), len(ref_values)) < t["min_samples"]:
        return _no_data(key, len(now_rows), len(ref_values))
    now = stats.percentile([float(r[field_name]) for r in now_rows], 95)
    before = stats.percentile(ref_values, 95)
    alarm = now >= before * (1 + t["rise"]) and now - before >= t["min_ms"]
    top = sorted(now_rows, key=lambda r: float(r[field_name]), reverse=True)[:EXAMPLES]
    return MonitorResult(key, ALARM if alarm else OK, now, before, f"p95 {before:.1f} ms -> {now:.1f} ms",
                         [str(r["id"]) for r in top], len(now_rows), len(ref_values))


def _total_tokens(record: Record) -> float:
    usage = record.get("usage") or {}
    return float(usage.get("prompt_tokens") or 0) + float(usage.get("completion_tokens") or 0)


def refusal_rate(current: Window, reference: Window, t: Mapping[str, float]) -> MonitorResult:
    return _rate("refusal_rate", current.requests, reference.requests, is_refusal, t)


def error_rate(current: Window, reference: Window, t: Mapping[str, float]) -> MonitorResult:
    return _rate("error_rate", current.requests, reference.requests, lambda r: int(r.get("status") or 0) >= 500, t)


def rate_limited_rate(current: Window, reference: Window, t: Mapping[str, float]) -> MonitorResult:
    return _rate("rate_limited_rate", current.requests, reference.requests,
                 lambda r: int(r.get("status") or 0) == 429, t)


def cost_per_request(current: Window, reference: Window, t: Mapping[str, float]) -> MonitorResult:
    return _mean_rise("cost_per_request", current.requests, reference.requests,
                      lambda r: float(r.get("cost_usd") or 0.0), t)


def tokens_per_request(current: Window, reference: Window, t: Mapping[str, float]) -> MonitorResult:
    return _mean_rise("tokens_per_request", current.requests, reference.requests, _total_tokens, t)


def overhead_p95(current: Window, reference: Window, t: Mapping[str, float]) -> MonitorResult:
    return _p95_rise("overhead_p95", current.requests, reference.requests, "overhead_ms", t)


def ttft_p95(current: Window, reference: Window, t: Mapping[str, float]) -> MonitorResult:
    return _p95_rise("ttft_p95", current.requests, reference.requests, "ttft_ms", t)


def feedback_score(current: Window, reference: Window, t: Mapping[str, float]) -> MonitorResult:
    key = "feedback_score"
    now_rows = [f for f in current.feedback if f.get("score") is not None]
    ref_scores = [float(f["score"]) for f in reference.feedback if f.get("score") is not None]
    if min(len(now_rows), len(ref_scores)) < t["min_samples"]:
        return _no_data(key, len(now_rows), len(ref_scores))
    now_scores = [float(f["score"]) for f in now_rows]
    now, before = float(np.mean(now_scores)), float(np.mean(ref_scores))
    z = -stats.mean_z(ref_scores, now_scores)  # positive when the score fell
    alarm = before - now >= t["min_drop"] and z >= t["z"]
    worst = sorted(now_rows, key=lambda f: float(f["score"]))[:EXAMPLES]
    return MonitorResult(key, ALARM if alarm else OK, now, before, f"mean score {before:.2f} -> {now:.2f} (z={z:.1f})",
                         [str(f.get("request_id")) for f in worst], len(now_rows), len(ref_scores))


@dataclass
class _TopicShift:
    psi: float
    bar: float  # the PSI this shift must reach: the threshold, or sampling noise when that is larger
    distance: float
    moved: str
    examples: list[str]


def _topic_shift(reference: np.ndarray, current: np.ndarray, ids: list[str], t: Mapping[str, float]
                 ) -> _TopicShift:
    centres = stats.kmeans(reference, int(t["clusters"]))
    k = len(centres)
    ref_shares = stats.shares(stats.assign(reference, centres), k)
    labels = stats.assign(current, centres)
    now_shares = stats.shares(labels, k)
    grown = int(np.argmax(now_shares - ref_shares))
    # examples: in the cluster that grew most, the current texts farthest from it (the least like the reference)
    distance = ((current - centres[grown]) ** 2).sum(-1)
    order = [i for i in np.argsort(-distance) if labels[i] == grown][:EXAMPLES]
    # n_eff * PSI is about chi-square with k - 1 degrees of freedom on stationary traffic: the PSI that
    # sampling noise alone reaches at the z threshold's significance, for these window sizes
    noise = stats.chi2_quantile(max(1, k - 1), t["z"]) * (1 / len(current) + 1 / len(reference))
    centroid = stats.centroid_distance(reference, current)
    moved = (f"topic cluster {grown}: {ref_shares[grown]:.0%} -> {now_shares[grown]:.0%} of traffic, "
             f"centroid distance {centroid:.3f}")
    return _TopicShift(stats.psi(ref_shares, now_shares), max(t["psi"], noise), centroid, moved,
                       [ids[i] for i in order])


def topic_drift(current: Window, reference: Window, t: Mapping[str, float]) -> MonitorResult:
    """Prompts and answers each: PSI over the reference's k-means topic clusters, and centroid distance."""
    key = "topic_drift"
    best: tuple[str, _TopicShift] | None = None
    for label, name in (("prompts", "prompt_vectors"), ("answers", "answer_vectors")):
        now, before = getattr(current, name), getattr(reference, name)
        if now is None or before is None or min(len(now), len(before)) < t["min_samples"]:
            continue
        shift = _topic_shift(before, now, current.vector_ids, t)
        if best is None or shift.psi - shift.bar > best[1].psi - best[1].bar:
            best = (label, shift)
    if best is None:
        return _no_data(key, len(current.vector_ids), len(reference.vector_ids))
    label, shift = best
    alarm = shift.psi >= shift.bar or shift.distance >= t["centroid"]
    return MonitorResult(key, ALARM if alarm else OK, shift.psi, 0.0,
                         f"PSI {shift.psi:.3f} (alarm at {shift.bar:.3f}); {label}: {shift.moved}", shift.examples,
                         len(current.vector_ids), len(reference.vector_ids))


RUNS: dict[str, Callable[[Window, Window, Mapping[str, float]], MonitorResult]] = {
    "topic_drift": topic_drift, "refusal_rate": refusal_rate, "feedback_score": feedback_score,
    "cost_per_request": cost_per_request, "tokens_per_request": tokens_per_request, "overhead_p95": overhead_p95,
    "ttft_p95": ttft_p95, "error_rate": error_rate, "rate_limited_rate": rate_limited_rate,
}
assert set(RUNS) == set(BY_KEY), "every defined monitor has a run, and only those"


def run_all(current: Window, reference: Window, thresholds: Mapping[str, Mapping[str, float]]) -> list[MonitorResult]:
    """Every monitor, in definition order, with the app's thresholds (defaults where unset)."""
    return [RUNS[m.key](current, reference, {**m.thresholds, **thresholds.get(m.key, {})}) for m in MONITORS]
