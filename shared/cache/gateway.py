"""The response cache inside the chat gateway.

``GatewayCache.begin`` builds the request's cache scope and key material once (after the prompt,
optimisation and routing steps: the scope names the deployment that would answer and its model);
``lookup`` runs concurrently with the input guardrails; a hit is answered here, as JSON or replayed
as a stream; a fresh answer is stored in the background after the output guardrails passed.
Every request records its cache status (``record["cache"]``, ``x-llmops-cache``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.api import sse
from shared.cache.keys import CacheScope
from shared.cache.policy import CachePolicy
from shared.cache.service import CACHE_HEADER, CacheHit, CacheRequest, ResponseCache
from shared.cache.streaming import assemble, replay_chunks
from shared.policies import SectionCache

if TYPE_CHECKING:
    from shared.gateway.context import ChatContext

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CacheState:
    scope: CacheScope
    request: CacheRequest
    hit: CacheHit | None = None


def state_of(ctx: ChatContext) -> CacheState | None:
    """The request's cache state (``begin`` put it on the context)."""
    state = ctx.cache
    return state if isinstance(state, CacheState) else None


class GatewayCache:
    def __init__(self, cache: ResponseCache) -> None:
        self.cache = cache
        self._sections = SectionCache(CachePolicy, "cache")
        self._pending: set[asyncio.Task[None]] = set()

    def begin(self, ctx: ChatContext, headers: Mapping[str, str]) -> CacheState:
        assert ctx.principal is not None and ctx.deployment is not None
        policy: CachePolicy = self._sections.get(ctx.app_policy.get("cache"))
        request = CacheRequest.from_body(
            {**ctx.body, "messages": ctx.messages}, policy=policy, cache_control=headers.get("cache-control")
        )
        prompt = ctx.record.get("prompt")
        scope = CacheScope.for_request(
            ctx.principal.tenant_id,
            ctx.deployment.alias,
            # the model behind the alias: another model, deployment or endpoint starts a fresh cache
            f"{ctx.deployment.model}|{ctx.deployment.deployment}|{ctx.deployment.endpoint}",
            request.messages,
            f"{prompt['name']}@{prompt['version']}" if prompt else None,
        )
        state = ctx.cache = CacheState(scope, request)
        return state

    async def lookup(self, ctx: ChatContext) -> CacheHit | None:
        state = state_of(ctx)
        assert state is not None, "begin() comes first"
        try:
            state.hit = await self.cache.lookup(state.scope, state.request)
        except Exception:  # a cache that cannot answer is a miss, never an error
            log.exception("response cache lookup failed")
            state.request.status = "miss"
            state.hit = None
        self._mark(ctx, state)
        return state.hit

    @staticmethod
    def _mark(ctx: ChatContext, state: CacheState) -> None:
        ctx.record["cache"] = state.request.status
        ctx.response_headers[CACHE_HEADER] = state.request.status
        if state.hit is not None:
            ctx.record["cache_hit"] = state.hit.record

    @staticmethod
    def hit_events(hit: CacheHit, include_usage: bool) -> AsyncIterator[bytes]:
        """A cached answer replayed as a stream."""
        return sse.replay(replay_chunks(hit.response, include_usage=include_usage))

    def store_later(self, ctx: ChatContext, response: dict[str, Any]) -> None:
        """Remember a fresh answer without making the client wait for the write."""
        state = state_of(ctx)
        if state is None or state.hit is not None:
            return
        task = asyncio.get_running_loop().create_task(self._store(state, response))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def store_stream_later(self, ctx: ChatContext, chunks: list[dict[str, Any]]) -> None:
        if chunks:
            self.store_later(ctx, assemble(chunks))

    async def _store(self, state: CacheState, response: dict[str, Any]) -> None:
        try:
            await self.cache.store(state.scope, state.request, response)
        except Exception:  # a cache that cannot write costs savings, never a request
            log.exception("response cache store failed")

    async def drain(self) -> None:
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        await self.cache.close()
