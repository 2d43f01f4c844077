"""What decides a cached answer, as keys.

- ``CacheScope``: tenant, deployment alias and the model behind it, prompt version, system-prompt
  hash. An answer is never served outside its scope, so a new prompt version or a model change
  behind an alias simply stops matching the old entries.
- exact key: a hash over the scope, the messages and every request field that changes the answer.
- semantic scope: the scope plus the answer-shaping parameters (and, for multi-turn requests, the
  conversation before the last user turn); only the last user turn is compared by meaning.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

# Request fields that do not change the answer's content (transport, tracking, our own fields).
_NOT_ANSWER_FIELDS = frozenset(
    {"messages", "stream", "stream_options", "user", "metadata", "store", "prompt", "service_tier", "cache"}
)


def _digest(value: Any) -> str:
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode()).hexdigest()


def content_text(content: Any) -> str:
    """The text of a message's content (a string, or a list of parts of which text parts count)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def system_prompt_hash(messages: list[dict[str, Any]]) -> str:
    system = [content_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer")]
    return _digest(system)[:16]


@dataclass(frozen=True, slots=True)
class CacheScope:
    tenant_id: str
    deployment: str  # the gateway's alias for the deployment that would answer
    model: str  # the model (and version) behind that alias: a model change invalidates
    prompt_version: str | None  # "name@hash" when the request used the registry
    system_hash: str

    @classmethod
    def for_request(
        cls, tenant_id: str, deployment: str, model: str, messages: list[dict[str, Any]], prompt_version: str | None
    ) -> CacheScope:
        return cls(tenant_id, deployment, model, prompt_version, system_prompt_hash(messages))

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "deployment": self.deployment,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "system_hash": self.system_hash,
        }


def answer_params(body: dict[str, Any]) -> dict[str, Any]:
    """Every request field except the messages that can change the answer (model, tools, limits...)."""
    return {k: v for k, v in body.items() if k not in _NOT_ANSWER_FIELDS and v is not None}


def exact_key(scope: CacheScope, messages: list[dict[str, Any]], params: dict[str, Any]) -> str:
    return _digest({"scope": scope.as_dict(), "messages": messages, "params": params})


def is_deterministic(params: dict[str, Any]) -> bool:
    """Temperature 0 (or top_p 0) and a single choice: the same request should get the same answer."""
    n = params.get("n")
    if n not in (None, 1):
        return False
    return params.get("temperature") == 0 or params.get("top_p") == 0


def last_user_turn(messages: list[dict[str, Any]]) -> tuple[int, str] | None:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "user":
            text = content_text(messages[index].get("content"))
            return (index, text) if text.strip() else None
    return None


def is_single_turn(messages: list[dict[str, Any]]) -> bool:
    """Only system/developer messages and exactly one user message."""
    roles = [m.get("role") for m in messages]
    return roles.count("user") == 1 and all(r in ("system", "developer", "user") for r in roles) and roles[-1] == "user"


def semantic_scope_key(scope: CacheScope, params: dict[str, Any], messages: list[dict[str, Any]], index: int) -> str:
    """Entries are compared only with others of the same scope key."""
    earlier = [m for m in messages[:index] if m.get("role") not in ("system", "developer")]
    return _digest({"scope": scope.as_dict(), "params": params, "context": earlier})[:32]
