"""Per-deployment rate limits, switchable faults and counters for the simulator.

Limits work like Azure OpenAI's: a sliding one-minute window of requests and of tokens, where a
request is charged its prompt tokens plus its ``max_tokens`` up front. Over a limit the simulator
answers 429 with ``Retry-After`` / ``retry-after-ms`` and ``x-ratelimit-*`` headers.
Faults are switched at run time through the control endpoint (``POST /control/faults``).
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

WINDOW_S = 60.0


class Faults(BaseModel):
    """What can go wrong on a deployment; rates are probabilities per request."""

    model_config = ConfigDict(extra="forbid")

    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_status: int = Field(default=500, ge=400, le=599)
    retry_after_s: float | None = Field(default=None, ge=0)  # sent with error_status 429/503
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_s: float = Field(default=30.0, ge=0)  # how long a "timed out" request hangs before answering
    stream_cut_rate: float = Field(default=0.0, ge=0, le=1)
    stream_cut_after_chunks: int = Field(default=3, ge=0)
    content_filter_rate: float = Field(default=0.0, ge=0, le=1)
    extra_latency_ms: float = Field(default=0.0, ge=0)
    # answers from supplied context get a figure wrong (llmops/simulator/grounded.py)
    hallucination_rate: float = Field(default=0.0, ge=0, le=1)


@dataclass
class Limits:
    tokens_per_minute: int | None = None
    requests_per_minute: int | None = None


@dataclass
class Decision:
    allowed: bool
    headers: dict[str, str]
    retry_after_s: float = 0.0


@dataclass
class DeploymentState:
    name: str
    limits: Limits = field(default_factory=Limits)
    family: str = "chat"  # chat | reasoning | embeddings (llmops/simulator/families.py)
    faults: Faults = field(default_factory=Faults)
    window: deque = field(default_factory=deque)  # (timestamp, tokens)
    counters: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.counters[outcome] = self.counters.get(outcome, 0) + 1

    def admit(self, tokens: int, now: float | None = None) -> Decision:
        now = time.monotonic() if now is None else now
        while self.window and self.window[0][0] <= now - WINDOW_S:
            self.window.popleft()
        used_requests = len(self.window)
        used_tokens = sum(t for _, t in self.window)
        rpm, tpm = self.limits.requests_per_minute, self.limits.tokens_per_minute
        over_requests = rpm is not None and used_requests + 1 > rpm
        over_tokens = tpm is not None and used_tokens + tokens > tpm
        if over_requests or over_tokens:
            retry = self._reset_after(now, tokens if over_tokens else None)
            return Decision(False, self._headers(used_requests, used_tokens, retry) | {
                "retry-after": str(max(1, math.ceil(retry))), "retry-after-ms": str(int(retry * 1000))}, retry)
        self.window.append((now, tokens))
        return Decision(True, self._headers(used_requests + 1, used_tokens + tokens, 0.0))

    def _reset_after(self, now: float, tokens: int | None) -> float:
        """Seconds until enough of the window has expired to admit the request."""
        if not self.window:
            return 1.0
        if tokens is None:
            return max(self.window[0][0] + WINDOW_S - now, 0.05)
        tpm = self.limits.tokens_per_minute or 0
        needed = sum(t for _, t in self.window) + tokens - tpm
        freed = 0
        for stamp, spent in self.window:
            freed += spent
            if freed >= needed:
                return max(stamp + WINDOW_S - now, 0.05)
        return WINDOW_S

    def _headers(self, used_requests: int, used_tokens: int, reset_s: float) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.limits.requests_per_minute is not None:
            headers["x-ratelimit-limit-requests"] = str(self.limits.requests_per_minute)
            headers["x-ratelimit-remaining-requests"] = str(max(self.limits.requests_per_minute - used_requests, 0))
            headers["x-ratelimit-reset-requests"] = f"{reset_s:.1f}s"
        if self.limits.tokens_per_minute is not None:
            headers["x-ratelimit-limit-tokens"] = str(self.limits.tokens_per_minute)
            headers["x-ratelimit-remaining-tokens"] = str(max(self.limits.tokens_per_minute - used_tokens, 0))
            headers["x-ratelimit-reset-tokens"] = f"{reset_s:.1f}s"
        return headers


@dataclass
class LatencyModel:
    """Time to first token plus a normally distributed time per output token (ms)."""

    first_token_ms: float = 150.0
    per_token_ms: float = 19.0
    per_token_sd_ms: float = 6.0

    @classmethod
    def zero(cls) -> LatencyModel:
        return cls(0.0, 0.0, 0.0)

    def token_delay_s(self, rng: random.Random) -> float:
        if self.per_token_ms <= 0:
            return 0.0
        return max(rng.gauss(self.per_token_ms, self.per_token_sd_ms), 0.0) / 1000

    def total_s(self, tokens: int, rng: random.Random) -> float:
        if self.per_token_ms <= 0 and self.first_token_ms <= 0:
            return 0.0
        mean = self.per_token_ms * tokens
        sd = self.per_token_sd_ms * math.sqrt(max(tokens, 1))
        return (self.first_token_ms + max(rng.gauss(mean, sd), 0.0)) / 1000


class SimulatorState:
    def __init__(self, deployments: dict[str, Limits], latency: LatencyModel, *, seed: int | None = None,
                 api_key: str | None = None, answer_tokens: tuple[int, int] = (20, 120),
                 families: dict[str, str] | None = None) -> None:
        self.families = dict(families or {})  # deployment -> family, beside what the model catalog says
        self.deployments = {name: DeploymentState(name, limits, self._family(name))
                            for name, limits in deployments.items()}
        self.latency = latency
        self.answer_tokens = answer_tokens  # the range of a generated answer's length (before max_tokens)
        self.api_key = api_key
        self.rng = random.Random(seed)

    def get(self, name: str) -> DeploymentState | None:
        return self.deployments.get(name)

    def add(self, name: str) -> DeploymentState:
        return self.deployments.setdefault(name, DeploymentState(name, family=self._family(name)))

    def _family(self, name: str) -> str:
        from llmops.simulator.families import family_of

        return self.families.get(name) or family_of(name)

    def set_faults(self, deployment: str, faults: Faults) -> list[str]:
        targets = list(self.deployments) if deployment == "*" else [deployment]
        for name in targets:
            if name not in self.deployments:
                raise KeyError(name)
            self.deployments[name].faults = faults
        return targets

    def set_limits(self, deployment: str, limits: Limits) -> None:
        state = self.deployments[deployment]
        state.limits = limits
        state.window.clear()

    def reset(self) -> None:
        for state in self.deployments.values():
            state.faults = Faults()
            state.window.clear()
            state.counters.clear()

    def roll(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    def snapshot(self) -> dict[str, Any]:
        return {
            "latency": asdict(self.latency),
            "deployments": {
                name: {"limits": asdict(s.limits), "faults": s.faults.model_dump(), "counters": dict(s.counters),
                       "family": s.family}
                for name, s in self.deployments.items()
            },
        }
