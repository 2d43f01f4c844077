"""The ``cache`` section of an app's policy, validated, with the platform defaults from settings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CachePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    exact: bool = True
    semantic: bool = True
    # Verifier score a semantic hit needs (0..1); None: the platform default (Settings.cache_semantic_threshold).
    semantic_threshold: float | None = Field(default=None, ge=0, le=1)
    # Compare the last user turn of multi-turn requests too (scoped by the conversation before it).
    semantic_multi_turn: bool = False
    # Cache answers to requests sampled with temperature > 0 (the app accepts a fixed answer).
    allow_nondeterministic: bool = False
    ttl_s: int | None = Field(default=None, gt=0)

    @classmethod
    def from_app_policy(cls, policy: dict[str, Any] | None) -> CachePolicy:
        """The app's ``policy["cache"]`` (missing: defaults). Raises ``pydantic.ValidationError``."""
        return cls.model_validate((policy or {}).get("cache") or {})
