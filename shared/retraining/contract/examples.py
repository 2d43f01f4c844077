"""The training-example format: what curation writes into the ``datasets`` container and what the
pipeline's ``prepare`` step reads from a JSONL snapshot.

One example per line::

    {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...],
     "split": "train"|"validation", "example_id": "...", "dataset_id": "...", "source_request_id": "..."}

The last message is the assistant answer the model learns (and, on validation, the reference the
evaluation scores against).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator

Role = Literal["system", "user", "assistant"]
Split = Literal["train", "validation"]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    role: Role
    content: str = Field(min_length=1)


class TrainingExample(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    messages: tuple[ChatMessage, ...] = Field(min_length=2)
    split: Split
    # Curated documents in the store carry the example's id as ``id``.
    example_id: str = Field(min_length=1, validation_alias=AliasChoices("example_id", "id"))
    dataset_id: str = Field(min_length=1)
    source_request_id: str | None = None

    @model_validator(mode="after")
    def _ends_with_an_answer(self) -> TrainingExample:
        if self.messages[-1].role != "assistant":
            raise ValueError("the last message must be the assistant's answer")
        if not any(m.role == "user" for m in self.messages[:-1]):
            raise ValueError("an example needs at least one user message before the answer")
        return self

    @property
    def prompt(self) -> list[dict[str, str]]:
        """The conversation up to the answer, as the chat API takes it."""
        return [m.model_dump() for m in self.messages[:-1]]

    @property
    def reference(self) -> str:
        return self.messages[-1].content

    def chat(self) -> list[dict[str, str]]:
        return [m.model_dump() for m in self.messages]


class SnapshotError(ValueError):
    """The snapshot file cannot be used: unreadable lines, bad examples, or an empty split."""


def parse_examples(lines: Iterable[str], *, source: str = "snapshot") -> Iterator[TrainingExample]:
    """Validate JSONL lines; blank lines are skipped, a bad line raises with its line number."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield TrainingExample.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as exc:
            if isinstance(exc, ValidationError):
                error = exc.errors()[0]
                where = ".".join(str(part) for part in error["loc"])
                reason = f"{where}: {error['msg']}" if where else error["msg"]
            else:
                reason = exc.msg
            raise SnapshotError(f"{source}:{number}: not a training example: {reason}") from exc


def read_examples(path: Path) -> list[TrainingExample]:
    """All examples of a JSONL file (or of every ``*.jsonl`` file of a folder, in name order)."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files:
        raise SnapshotError(f"{path}: no .jsonl files")
    examples: list[TrainingExample] = []
    for file in files:
        with file.open(encoding="utf-8") as handle:
            examples.extend(parse_examples(handle, source=str(file)))
    return examples


def write_examples(path: Path, examples: Iterable[TrainingExample]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(example.model_dump_json(exclude_none=True) + "\n")
            count += 1
    return count
