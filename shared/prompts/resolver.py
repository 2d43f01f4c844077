"""The gateway's prompt step: a request may carry ``prompt: {name, label | version, variables}``
(a documented extension field) instead of, or before, ``messages``. The resolver finds the
version (labels cached in process for a short TTL and dropped at once when this process moves a
label; versions are immutable and cached for good), renders it, and returns the request to send.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.prompts.registry import (
    DEFAULT_LABEL,
    LabelTarget,
    PromptNotFoundError,
    PromptRegistry,
    PromptVersion,
    pick_target,
)
from shared.prompts.render import PromptVariablesError, RenderedPrompt, render
from shared.prompts.spec import LABEL_PATTERN, NAME_PATTERN

PROMPT_HEADER = "x-llmops-prompt"
_VERSION_CACHE_SIZE = 1024
# Request fields a prompt's model section may fill in when the client did not set them.
_PROMPT_DEFAULTS = (
    "temperature",
    "top_p",
    "max_tokens",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
)


class PromptReference(BaseModel):
    """The ``prompt`` field of a chat request."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    label: str | None = Field(default=None, pattern=LABEL_PATTERN)
    version: str | None = Field(default=None, min_length=1, max_length=64)
    variables: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _label_or_version(self) -> PromptReference:
        if self.label is not None and self.version is not None:
            raise ValueError("give either 'label' or 'version', not both")
        return self


class PromptRequestError(Exception):
    """A prompt problem the client caused or must know about, with the HTTP status to answer."""

    def __init__(self, status: int, message: str, *, param: str | None = "prompt", code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


@dataclass(frozen=True, slots=True)
class PreparedPrompt:
    """What the prompt step hands on: the request body to use and the version that produced it."""

    body: dict[str, Any]
    version: PromptVersion
    rendered: RenderedPrompt

    @property
    def header(self) -> str:
        return f"{self.version.name}@{self.version.version}"

    @property
    def record(self) -> dict[str, Any]:
        """For the request log and the span: ``{"name", "version", "number"}``."""
        return {"name": self.version.name, "version": self.version.version, "number": self.version.number}


class PromptResolver:
    def __init__(
        self, registry: PromptRegistry, *, ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.registry = registry
        self.ttl_s = ttl_s
        self._clock = clock
        self._labels: dict[str, tuple[float, dict[str, list[LabelTarget]]]] = {}
        self._versions: OrderedDict[tuple[str, str], PromptVersion] = OrderedDict()
        registry.on_label_move(lambda name, _label: self.invalidate(name))

    def invalidate(self, name: str | None = None) -> None:
        """Forget cached labels (of one prompt, or all)."""
        if name is None:
            self._labels.clear()
        else:
            self._labels.pop(name, None)

    async def _label_targets(self, name: str) -> dict[str, list[LabelTarget]]:
        cached = self._labels.get(name)
        now = self._clock()
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        labels = await self.registry.labels(name)
        self._labels[name] = (now, labels)
        return labels

    async def _version(self, name: str, version: str) -> PromptVersion:
        key = (name, version)
        if (found := self._versions.get(key)) is not None:
            self._versions.move_to_end(key)
            return found
        found = await self.registry.get_version(name, version)
        # Cache under the full hash and under the selector used (e.g. "v3"), both immutable.
        for k in {key, (name, found.version)}:
            self._versions[k] = found
        while len(self._versions) > _VERSION_CACHE_SIZE:
            self._versions.popitem(last=False)
        return found

    async def resolve(self, ref: PromptReference, *, ab_key: str | None = None) -> PromptVersion:
        if ref.version is not None:
            return await self._version(ref.name, ref.version)
        label = ref.label or DEFAULT_LABEL
        targets = (await self._label_targets(ref.name)).get(label)
        if not targets:
            raise PromptNotFoundError(f"prompt {ref.name!r} has no label {label!r}")
        chosen = pick_target(targets, None if ab_key is None else f"{ref.name}:{label}:{ab_key}")
        try:
            return await self._version(ref.name, chosen.version)
        except PromptNotFoundError:
            raise PromptNotFoundError(
                f"prompt {ref.name!r} label {label!r} points at version {chosen.version}, which does not exist"
            ) from None

    async def prepare(self, body: dict[str, Any], *, ab_key: str | None = None) -> PreparedPrompt | None:
        """Resolve and render ``body["prompt"]``; None when the request names no prompt.

        The rendered messages come first, then any ``messages`` the client sent (e.g. a
        conversation). Prompt model parameters fill only fields the client left unset.
        """
        raw = body.get("prompt")
        if raw is None:
            return None
        try:
            ref = PromptReference.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in ("prompt", *first["loc"]))
            raise PromptRequestError(400, f"invalid {where}: {first['msg']}", param=where) from None
        try:
            version = await self.resolve(ref, ab_key=ab_key)
        except PromptNotFoundError as exc:
            raise PromptRequestError(404, str(exc), code="prompt_not_found") from None
        try:
            rendered = render(version.spec, ref.variables)
        except PromptVariablesError as exc:
            raise PromptRequestError(400, str(exc), param="prompt.variables", code="invalid_prompt_variables") from None
        extra_messages = body.get("messages") or []
        if not isinstance(extra_messages, list):
            raise PromptRequestError(400, "'messages' must be a list", param="messages")
        new_body = {k: v for k, v in body.items() if k != "prompt"}
        new_body["messages"] = [*rendered.messages, *extra_messages]
        for key in _PROMPT_DEFAULTS:
            if key in rendered.params and new_body.get(key) is None:
                new_body[key] = rendered.params[key]
        if "model" in rendered.params and new_body.get("model") in (None, "", "auto"):
            new_body["model"] = rendered.params["model"]
        return PreparedPrompt(body=new_body, version=version, rendered=rendered)
