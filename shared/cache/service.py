"""``ResponseCache``: the gateway's exact + semantic response cache.

    request = CacheRequest.from_body(body, policy=CachePolicy.from_app_policy(app_policy),
                                     cache_control=headers.get("cache-control"))
    hit = await cache.lookup(scope, request)      # CacheHit | None; request.status says why not
    ...call the model...
    await cache.store(scope, request, response_body)

A hit is the stored non-streamed response with a new id, ``usage`` zeroed (it cost no tokens)
and ``x-llmops-cache: hit-exact | hit-semantic``; ``replay_chunks`` turns it into a stream.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from shared.cache.exact import ExactCache
from shared.cache.keys import (
    CacheScope,
    answer_params,
    exact_key,
    is_deterministic,
    is_single_turn,
    last_user_turn,
    semantic_scope_key,
)
from shared.cache.policy import CachePolicy
from shared.cache.semantic_store import SemanticEntry, SemanticStore
from shared.cache.similarity import is_hit
from shared.cache.verifier import PairVerifier
from shared.embeddings.port import Embedder

log = logging.getLogger(__name__)

CACHE_HEADER = "x-llmops-cache"
CacheStatus = Literal["hit-exact", "hit-semantic", "miss", "bypass", "off", "not-cacheable"]
# "length": the same request with the same max_tokens gets the same cut answer; "content_filter" never.
_STORABLE_FINISH = frozenset({"stop", "length", "tool_calls", "function_call"})
_SEMANTIC_CANDIDATES = 3


@dataclass
class CacheRequest:
    messages: list[dict[str, Any]]
    params: dict[str, Any]  # every answer-shaping request field (see keys.answer_params)
    policy: CachePolicy = field(default_factory=CachePolicy)
    no_cache: bool = False  # Cache-Control: no-cache: do not answer from the cache (still refresh it)
    no_store: bool = False  # Cache-Control: no-store: neither read nor write
    status: CacheStatus = "miss"
    # filled in by lookup for store to reuse
    _embedding: np.ndarray | None = None
    _semantic: tuple[str, str] | None = None  # (scope key, question)

    @classmethod
    def from_body(cls, body: dict[str, Any], *, policy: CachePolicy, cache_control: str | None = None) -> CacheRequest:
        directives = {d.strip().lower() for d in (cache_control or "").split(",")}
        return cls(
            messages=list(body.get("messages") or []),
            params=answer_params(body),
            policy=policy,
            no_cache="no-cache" in directives or "no-store" in directives,
            no_store="no-store" in directives,
        )


@dataclass(frozen=True, slots=True)
class CacheHit:
    kind: Literal["hit-exact", "hit-semantic"]
    response: dict[str, Any]  # what to send: new id, zero usage
    saved_usage: dict[str, Any]  # the usage of the call this answer first came from
    entry_id: str
    similarity: float | None = None  # semantic: the verifier's score
    cosine: float | None = None
    matched_question: str | None = None

    @property
    def header(self) -> str:
        return self.kind

    @property
    def record(self) -> dict[str, Any]:
        """For the request log: status, what was saved, and how close a semantic match was."""
        return {
            "status": self.kind,
            "entry": self.entry_id,
            "saved_tokens": int(self.saved_usage.get("total_tokens") or 0),
            "similarity": self.similarity,
            "cosine": self.cosine,
        }


@dataclass(frozen=True, slots=True)
class CacheConfig:
    enabled: bool = True
    ttl_s: int = 3600
    semantic_threshold: float = 0.8
    candidate_floor: float = 0.8
    # A question longer than this is looked up exactly only: every paraphrase set the verifier was
    # measured on holds short questions, and embedding a page would cost ~20 ms of CPU per request.
    semantic_max_chars: int = 300

    @classmethod
    def from_settings(cls, settings: Any) -> CacheConfig:
        return cls(
            settings.cache_enabled,
            settings.cache_ttl_s,
            settings.cache_semantic_threshold,
            settings.cache_semantic_candidate_floor,
            getattr(settings, "cache_semantic_max_chars", 300),
        )


def hit_response(stored: dict[str, Any], now: float) -> dict[str, Any]:
    body = copy.deepcopy(stored)
    body["id"] = f"chatcmpl-cache-{uuid.uuid4().hex[:24]}"
    body["created"] = int(now)
    body["usage"] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    return body


def storable(response: dict[str, Any]) -> bool:
    choices = response.get("choices")
    return (
        isinstance(choices, list)
        and bool(choices)
        and all(isinstance(c, dict) and c.get("finish_reason") in _STORABLE_FINISH for c in choices)
    )


class ResponseCache:
    def __init__(
        self,
        config: CacheConfig,
        exact: ExactCache,
        semantic: SemanticStore | None = None,
        embedder: Embedder | None = None,
        verifier: PairVerifier | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if semantic is not None and embedder is None:
            raise ValueError("a semantic store needs an embedder")
        self.config = config
        self.exact = exact
        self.semantic = semantic
        self.embedder = embedder
        self.verifier = verifier
        self._clock = clock

    # -- eligibility ------------------------------------------------------------------------
    def _eligible(self, request: CacheRequest) -> bool:
        policy = request.policy
        if not (self.config.enabled and policy.enabled) or not (policy.exact or policy.semantic):
            request.status = "off"
            return False
        if not request.messages:
            request.status = "not-cacheable"
            return False
        if not (is_deterministic(request.params) or policy.allow_nondeterministic):
            request.status = "not-cacheable"
            return False
        return True

    def _semantic_target(self, scope: CacheScope, request: CacheRequest) -> tuple[str, str] | None:
        if self.semantic is None or not request.policy.semantic:
            return None
        if not (is_single_turn(request.messages) or request.policy.semantic_multi_turn):
            return None
        turn = last_user_turn(request.messages)
        if turn is None or request.messages[-1].get("role") != "user":
            return None
        index, question = turn
        if len(question) > self.config.semantic_max_chars:
            return None
        scope_key = semantic_scope_key(scope, request.params, request.messages, index)
        embed_space = self.embedder.name if self.embedder is not None else ""
        return hashlib.sha256(f"{embed_space}\x1f{scope_key}".encode()).hexdigest()[:32], question

    async def _embed(self, request: CacheRequest, question: str) -> np.ndarray:
        if request._embedding is None:
            assert self.embedder is not None
            request._embedding = (await self.embedder.embed([question]))[0]
        return request._embedding

    # -- lookup -----------------------------------------------------------------------------
    async def lookup(self, scope: CacheScope, request: CacheRequest) -> CacheHit | None:
        if request.no_cache or request.no_store:
            request.status = "bypass"
            return None
        if not self._eligible(request):
            return None
        request.status = "miss"
        now = self._clock()
        if request.policy.exact:
            entry = await self.exact.get(scope.tenant_id, exact_key(scope, request.messages, request.params))
            if entry is not None:
                request.status = "hit-exact"
                return CacheHit(
                    "hit-exact", hit_response(entry.response, now), entry.response.get("usage") or {}, entry.entry_id
                )
        target = self._semantic_target(scope, request)
        request._semantic = target
        if target is None or self.semantic is None:
            return None
        scope_key, question = target
        vector = await self._embed(request, question)
        candidates = await self.semantic.search(
            scope.tenant_id, scope_key, vector, k=_SEMANTIC_CANDIDATES, min_score=self.config.candidate_floor
        )
        candidates = [c for c in candidates if c.entry.question]
        if not candidates:
            return None
        threshold = request.policy.semantic_threshold
        threshold = self.config.semantic_threshold if threshold is None else threshold
        if self.verifier is not None:
            scores = await self.verifier.scores(
                question, [c.entry.question or "" for c in candidates], [c.cosine for c in candidates]
            )
        else:
            scores = [c.cosine for c in candidates]
        best = max(range(len(candidates)), key=lambda i: scores[i])
        chosen = candidates[best]
        if not is_hit(chosen.cosine, scores[best], floor=self.config.candidate_floor, threshold=threshold):
            return None
        request.status = "hit-semantic"
        return CacheHit(
            "hit-semantic",
            hit_response(chosen.entry.response, now),
            chosen.entry.response.get("usage") or {},
            chosen.entry.entry_id,
            similarity=float(scores[best]),
            cosine=chosen.cosine,
            matched_question=chosen.entry.question,
        )

    # -- store ------------------------------------------------------------------------------
    async def store(self, scope: CacheScope, request: CacheRequest, response: dict[str, Any]) -> bool:
        """Remember a fresh answer; returns whether anything was stored."""
        if request.no_store or request.status.startswith("hit") or not self._eligible(request):
            return False
        if not storable(response):
            return False
        ttl_s = request.policy.ttl_s or self.config.ttl_s
        labels = {
            "deployment": scope.deployment,
            "model": scope.model,
            "prompt_name": scope.prompt_version.split("@")[0] if scope.prompt_version else None,
            "prompt_version": scope.prompt_version,
        }
        if request.policy.exact:
            key = exact_key(scope, request.messages, request.params)
            await self.exact.put(scope.tenant_id, key, response, ttl_s, labels)
        target = request._semantic or self._semantic_target(scope, request)
        if target is not None and self.semantic is not None:
            scope_key, question = target
            vector = await self._embed(request, question)
            await self.semantic.add(
                SemanticEntry(
                    entry_id=uuid.uuid4().hex,
                    tenant_id=scope.tenant_id,
                    scope_key=scope_key,
                    question=question,
                    vector=vector,
                    response=response,
                    expires_at=self._clock() + ttl_s,
                    labels=labels,
                )
            )
        return True

    async def invalidate(self, tenant_id: str, **match: Any) -> int:
        """Drop a tenant's entries with these labels (``deployment``, ``model``, ``prompt_name``,
        ``prompt_version``). Entries never match across those anyway; this frees their space."""
        count = await self.exact.invalidate(tenant_id, **match)
        if self.semantic is not None:
            count += await self.semantic.invalidate(tenant_id, **match)
        return count

    async def close(self) -> None:
        if self.semantic is not None:
            await self.semantic.close()
        if self.embedder is not None:
            await self.embedder.close()
