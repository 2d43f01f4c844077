"""Per-tenant and per-app limits: requests/minute, tokens/minute and a monthly budget in USD.

``UsageLimits`` turns an app's policy into the counter windows a request must reserve (see ``limiter.py``).
A tenant or app without a ``limits`` section costs nothing: the store is not touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from shared.limits.limiter import Limiter, LimitExceeded, Meter, Reservation, Window
from shared.limits.policy import LimitsPolicy
from shared.policies import SectionCache
from shared.store import DocumentStore
from shared.tenants import AppRecord

__all__ = ["LimitExceeded", "Limiter", "LimitsPolicy", "Meter", "Reservation", "UsageLimits", "Window"]


class UsageLimits:
    def __init__(self, store: DocumentStore, *, default_output_tokens: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.limiter = Limiter(store, clock=clock)
        self.default_output_tokens = default_output_tokens
        self._tenant_sections = SectionCache(LimitsPolicy, "limits")
        self._app_sections = SectionCache(LimitsPolicy, "limits")

    def scoped(self, app: AppRecord) -> list[tuple[str, LimitsPolicy]]:
        """The active limits of the tenant and of the app, each with its counter scope."""
        out = []
        tenant = self._tenant_sections.get(app.tenant_policy.get("limits"))
        if tenant.active:
            out.append((f"tenant:{app.tenant_id}", tenant))
        own = self._app_sections.get(app.own_policy.get("limits"))
        if own.active:
            out.append((f"app:{app.tenant_id}/{app.app_id}", own))
        return out

    def output_allowance(self, scoped: list[tuple[str, LimitsPolicy]]) -> int:
        """Output tokens reserved for a request without ``max_tokens`` (the tightest policy wins)."""
        values = [p.default_output_tokens for _, p in scoped if p.default_output_tokens is not None]
        return min(values) if values else self.default_output_tokens
