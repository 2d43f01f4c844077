"""The prompt registry: immutable versions, movable labels with weighted A/B splits, rollback,
and an audit trail, kept in the document store (SQLite locally, Cosmos DB in Azure).

Documents in the ``prompts`` container (partition key ``name``):

- ``v:<hash>`` (``type: version``): one immutable version, its number and its validated spec;
- ``state`` (``type: state``): the version counter, each label's targets (``[{version, weight}]``)
  and each label's history of earlier targets (what ``rollback`` returns to).

Label moves replace the state document under its ETag (retrying when someone else wrote first)
and write one document to ``prompt_audit``.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.prompts.files import PromptFile
from shared.prompts.spec import LABEL_PATTERN, PromptSpec
from shared.store import ConflictError, DocumentStore, Filter, PreconditionFailedError

PROMPTS = "prompts"
AUDIT = "prompt_audit"
STATE_ID = "state"
DEFAULT_LABEL = "production"
HISTORY_LIMIT = 50
_MOVE_ATTEMPTS = 20  # concurrent moves of one prompt's labels retry with a jittered pause


class PromptRegistryError(Exception):
    """Base class of registry errors."""


class PromptNotFoundError(PromptRegistryError):
    """No such prompt, version or label (or a label points at a version that does not exist)."""


class LabelError(PromptRegistryError):
    """A label move that cannot be made (bad label or weight, nothing to roll back to)."""


@dataclass(frozen=True, slots=True)
class LabelTarget:
    version: str
    weight: int

    def as_doc(self) -> dict[str, Any]:
        return {"version": self.version, "weight": self.weight}


@dataclass(frozen=True, slots=True)
class PromptVersion:
    name: str
    version: str
    number: int
    spec: PromptSpec
    source: str | None
    created_at: float
    created_by: str

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> PromptVersion:
        return cls(
            name=doc["name"],
            version=doc["version"],
            number=int(doc["number"]),
            spec=PromptSpec.model_validate(doc["spec"]),
            source=doc.get("source"),
            created_at=float(doc.get("created_at", 0)),
            created_by=str(doc.get("created_by", "")),
        )


@dataclass(frozen=True, slots=True)
class PushResult:
    name: str
    version: str
    number: int
    created: bool
    path: str | None


# how a label move changes a prompt's state: (targets before, targets after)
LabelChange = Callable[[dict[str, Any]], tuple[list[LabelTarget], list[LabelTarget]]]


def _targets(raw: Any) -> list[LabelTarget]:
    return [LabelTarget(str(t["version"]), int(t["weight"])) for t in raw or []]


def pick_target(targets: Sequence[LabelTarget], key: str | None) -> LabelTarget:
    """Choose among weighted targets; the same ``key`` (a user, a session) always gets the same one."""
    if len(targets) == 1:
        return targets[0]
    total = sum(t.weight for t in targets)
    point = (
        int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) % total if key is not None else random.randrange(total)
    )
    for target in targets:
        if point < target.weight:
            return target
        point -= target.weight
    return targets[-1]


def split_targets(current: Sequence[LabelTarget], version: str, weight: int) -> list[LabelTarget]:
    """``version`` gets ``weight`` percent; the label's other versions share the rest in proportion."""
    if not 1 <= weight <= 100:
        raise LabelError(f"weight must be between 1 and 100, got {weight}")
    others = [t for t in current if t.version != version]
    if weight == 100 or not others:
        return [LabelTarget(version, 100)]
    rest, total = 100 - weight, sum(t.weight for t in others)
    shares = [max(1, round(t.weight * rest / total)) for t in others]
    shares[0] += rest - sum(shares)  # keep the sum at exactly 100
    return [LabelTarget(version, weight)] + [
        LabelTarget(t.version, s) for t, s in zip(others, shares, strict=True) if s > 0
    ]


class PromptRegistry:
    def __init__(self, store: DocumentStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock
        self._listeners: list[Callable[[str, str], None]] = []

    def on_label_move(self, callback: Callable[[str, str], None]) -> None:
        """Call ``callback(name, label)`` after every label move made through this registry."""
        self._listeners.append(callback)

    # -- versions ---------------------------------------------------------------------------
    async def push(self, files: Sequence[PromptFile], *, actor: str, via: str = "cli") -> list[PushResult]:
        """Store a version for each file whose content is new; unchanged files create nothing."""
        results = []
        for prompt in files:
            spec, version = prompt.spec, prompt.spec.version_hash()
            existing = await self.store.get(PROMPTS, f"v:{version}", spec.name)
            if existing is not None:
                results.append(PushResult(spec.name, version, int(existing["number"]), False, prompt.path))
                continue
            state = await self.store.increment(
                PROMPTS, STATE_ID, spec.name, {"versions": 1}, defaults=self._new_state(spec.name)
            )
            number = int(state["versions"])
            doc = {
                "id": f"v:{version}",
                "name": spec.name,
                "type": "version",
                "version": version,
                "number": number,
                "spec": spec.model_dump(mode="json"),
                "source": prompt.path,
                "created_at": self._clock(),
                "created_by": actor,
            }
            try:
                await self.store.create(PROMPTS, doc)
            except ConflictError:  # pushed concurrently with the same content
                existing = await self.store.get(PROMPTS, f"v:{version}", spec.name)
                number = int(str((existing or doc)["number"]))
                results.append(PushResult(spec.name, version, number, False, prompt.path))
                continue
            await self._audit(spec.name, "push", None, None, [LabelTarget(version, 100)], actor, via)
            results.append(PushResult(spec.name, version, number, True, prompt.path))
        return results

    async def names(self) -> list[str]:
        docs = await self.store.query(PROMPTS, {"type": "state"})
        return sorted(doc["name"] for doc in docs)

    async def versions(self, name: str) -> list[PromptVersion]:
        docs = await self.store.query(
            PROMPTS, [Filter("name", "=", name), Filter("type", "=", "version")], order_by="number"
        )
        return [PromptVersion.from_doc(doc) for doc in docs]

    async def get_version(self, name: str, selector: str) -> PromptVersion:
        """A version by hash, unique hash prefix (6+ characters) or ``v<number>``."""
        doc = await self.store.get(PROMPTS, f"v:{selector}", name)
        if doc is not None:
            return PromptVersion.from_doc(doc)
        if match := re.fullmatch(r"v(\d+)", selector):
            docs = await self.store.query(
                PROMPTS,
                [Filter("name", "=", name), Filter("type", "=", "version"), Filter("number", "=", int(match[1]))],
            )
            if docs:
                return PromptVersion.from_doc(docs[0])
        elif re.fullmatch(r"[0-9a-f]{6,}", selector):
            found = [v for v in await self.versions(name) if v.version.startswith(selector)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise PromptNotFoundError(f"prompt {name!r}: version prefix {selector!r} is ambiguous")
        raise PromptNotFoundError(f"prompt {name!r} has no version {selector!r}")

    # -- labels -----------------------------------------------------------------------------
    async def labels(self, name: str) -> dict[str, list[LabelTarget]]:
        state = await self.store.get(PROMPTS, STATE_ID, name)
        if state is None:
            raise PromptNotFoundError(f"no prompt named {name!r}")
        return {label: _targets(raw) for label, raw in sorted((state.get("labels") or {}).items())}

    async def resolve(
        self, name: str, *, label: str | None = None, version: str | None = None, ab_key: str | None = None
    ) -> PromptVersion:
        """The version a request gets: the one named, or the label's (``production`` by default)."""
        if version is not None:
            return await self.get_version(name, version)
        label = label or DEFAULT_LABEL
        targets = (await self.labels(name)).get(label)
        if not targets:
            raise PromptNotFoundError(f"prompt {name!r} has no label {label!r}")
        chosen = pick_target(targets, None if ab_key is None else f"{name}:{label}:{ab_key}")
        doc = await self.store.get(PROMPTS, f"v:{chosen.version}", name)
        if doc is None:
            raise PromptNotFoundError(
                f"prompt {name!r} label {label!r} points at version {chosen.version}, which does not exist"
            )
        return PromptVersion.from_doc(doc)

    async def move_label(
        self,
        name: str,
        label: str,
        version: str,
        *,
        weight: int = 100,
        actor: str,
        via: str = "cli",
        forced: bool = False,
        reason: str | None = None,
        evaluation_id: str | None = None,
    ) -> dict[str, Any]:
        """Point ``label`` at ``version`` (``weight`` < 100: an A/B split with the label's current versions)."""
        if not re.fullmatch(LABEL_PATTERN, label):
            raise LabelError(f"invalid label {label!r} (lowercase letters, digits, '-' and '_')")
        target = await self.get_version(name, version)

        def change(state: dict[str, Any]) -> tuple[list[LabelTarget], list[LabelTarget]]:
            before = _targets(state["labels"].get(label))
            after = split_targets(before, target.version, weight)
            if before:
                state["history"].setdefault(label, []).append([t.as_doc() for t in before])
                state["history"][label] = state["history"][label][-HISTORY_LIMIT:]
            return before, after

        action = "promote" if weight == 100 else "split"
        return await self._move(name, label, change, action, actor, via, forced, reason, evaluation_id)

    async def rollback(self, name: str, label: str, *, actor: str, via: str = "cli",
                       reason: str | None = None) -> dict[str, Any]:
        """Move ``label`` back to the targets it had before its last move."""

        def change(state: dict[str, Any]) -> tuple[list[LabelTarget], list[LabelTarget]]:
            history = state["history"].get(label) or []
            if not history:
                raise LabelError(f"prompt {name!r} label {label!r} has no earlier version to roll back to")
            return _targets(state["labels"].get(label)), _targets(history.pop())

        return await self._move(name, label, change, "rollback", actor, via, False, reason, None)

    async def audit(self, name: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        return await self.store.query(AUDIT, {"name": name}, order_by="at", descending=True, limit=limit)

    # -- internals --------------------------------------------------------------------------
    @staticmethod
    def _new_state(name: str) -> dict[str, Any]:
        return {"type": "state", "name": name, "versions": 0, "labels": {}, "history": {}}

    async def _move(self, name: str, label: str, change: LabelChange, action: str, actor: str, via: str,
                    forced: bool, reason: str | None, evaluation_id: str | None) -> dict[str, Any]:
        for _ in range(_MOVE_ATTEMPTS):
            state = await self.store.get(PROMPTS, STATE_ID, name)
            if state is None:
                raise PromptNotFoundError(f"no prompt named {name!r}")
            state.setdefault("labels", {})
            state.setdefault("history", {})
            before, after = change(state)
            state["labels"][label] = [t.as_doc() for t in after]
            try:
                await self.store.replace(PROMPTS, state, if_match=state["_etag"])
            except PreconditionFailedError:
                await asyncio.sleep(random.uniform(0, 0.02))
                continue
            record = await self._audit(
                name,
                action,
                label,
                before,
                after,
                actor,
                via,
                forced=forced,
                reason=reason,
                evaluation_id=evaluation_id,
            )
            for listener in self._listeners:
                listener(name, label)
            return record
        raise PromptRegistryError(f"prompt {name!r}: label {label!r} kept changing under us; try again")

    async def _audit(
        self,
        name: str,
        action: str,
        label: str | None,
        before: Sequence[LabelTarget] | None,
        after: Sequence[LabelTarget] | None,
        actor: str,
        via: str,
        *,
        forced: bool = False,
        reason: str | None = None,
        evaluation_id: str | None = None,
    ) -> dict[str, Any]:
        record = {
            "id": uuid.uuid4().hex,
            "name": name,
            "action": action,
            "label": label,
            "from": [t.as_doc() for t in before] if before else [],
            "to": [t.as_doc() for t in after] if after else [],
            "actor": actor,
            "via": via,
            "forced": forced,
            "reason": reason,
            "evaluation_id": evaluation_id,
            "at": self._clock(),
        }
        return await self.store.create(AUDIT, record)
