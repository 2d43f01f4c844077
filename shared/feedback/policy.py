"""The ``feedback`` section of an app policy: what the feedback loop may keep and when it retrains."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class FeedbackPolicyError(ValueError):
    pass


class FeedbackPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Keep the conversation and answer of each request (in its request-log record) so feedback can
    # turn it into a training example. Off by default: content is kept only where an app opts in.
    retain_transcripts: bool = False
    # The dataset this app's examples go to (default: "<tenant>.<app>").
    dataset: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    # Ratings at or above this score (0..1; thumbs up = 1, 4 stars = 0.75) become examples.
    min_score: float = Field(default=0.75, ge=0, le=1)
    # Share of examples held out for validation, assigned deterministically by example id.
    validation_share: float = Field(default=0.1, ge=0, lt=1)
    # New examples since the last retraining run that trigger the next one.
    retrain_after_examples: int = Field(default=200, ge=1)

    def dataset_id(self, tenant_id: str, app_id: str) -> str:
        return self.dataset or f"{tenant_id}.{app_id}"


def feedback_policy(app_policy: dict[str, Any]) -> FeedbackPolicy:
    try:
        return FeedbackPolicy.model_validate(app_policy.get("feedback") or {})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"])
        raise FeedbackPolicyError(f"invalid feedback policy: {field}: {first['msg']}") from None
