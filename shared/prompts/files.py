"""Prompt files in the repository (``prompts/*.yaml``): read, validate, and point at the exact
file and line of any problem. A directory is loaded all or nothing, so a push never half-happens."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from shared.prompts.spec import PromptSpec

PROMPT_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class PromptFileProblem:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class PromptFileError(ValueError):
    """One or more prompt files are invalid; ``problems`` lists each with its file and line."""

    def __init__(self, problems: Iterable[PromptFileProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True, slots=True)
class PromptFile:
    path: str
    spec: PromptSpec


class _LineLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys and remembers the line of every key."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_index(node: yaml.Node, path: tuple[Any, ...] = (),
                out: dict[tuple[Any, ...], int] | None = None) -> dict[tuple[Any, ...], int]:
    """Map every key path (as pydantic reports it) to the 1-based line where it appears."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_path = (*path, key_node.value)
            out[key_path] = key_node.start_mark.line + 1
            _line_index(value_node, key_path, out)
            out[key_path] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, (*path, i), out)
    return out


def _line_for(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def _describe(error: ErrorDetails) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unknown field {loc!r}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{loc}: {message}" if loc else message


def parse_prompt_text(text: str, path: str) -> PromptFile:
    """Parse one prompt file's text; raise ``PromptFileError`` naming the file and line."""
    try:
        node = yaml.compose(text, Loader=_LineLoader)
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise PromptFileError([PromptFileProblem(path, line, f"YAML syntax error: {reason}")]) from None
    except yaml.YAMLError as exc:
        raise PromptFileError([PromptFileProblem(path, None, f"YAML error: {exc}")]) from None
    if not isinstance(data, dict):
        raise PromptFileError([PromptFileProblem(path, 1, "a prompt file must be a mapping (name:, template:, ...)")])
    lines = _line_index(node) if node is not None else {}
    for key in data:
        if not isinstance(key, str):
            raise PromptFileError([PromptFileProblem(path, lines.get((key,)), f"keys must be strings, not {key!r}")])
    try:
        spec = PromptSpec.model_validate(data)
    except ValidationError as exc:
        problems = [
            PromptFileProblem(path, _line_for(tuple(err["loc"]), lines), _describe(err))
            for err in exc.errors(include_url=False)
        ]
        raise PromptFileError(problems) from None
    return PromptFile(path, spec)


def load_prompt_file(path: Path) -> PromptFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptFileError([PromptFileProblem(str(path), None, f"cannot read: {exc}")]) from None
    return parse_prompt_text(text, str(path))


def prompt_paths(directory: Path) -> list[Path]:
    if directory.is_file():
        return [directory]
    if not directory.is_dir():
        raise PromptFileError([PromptFileProblem(str(directory), None, "no such file or directory")])
    return sorted(p for p in directory.iterdir() if p.suffix in PROMPT_SUFFIXES and p.is_file())


def load_prompt_dir(directory: Path) -> list[PromptFile]:
    """Every prompt file in ``directory`` (or the one file given), validated; all problems at once."""
    problems: list[PromptFileProblem] = []
    files: list[PromptFile] = []
    for path in prompt_paths(directory):
        try:
            files.append(load_prompt_file(path))
        except PromptFileError as exc:
            problems.extend(exc.problems)
    first_seen: dict[str, str] = {}
    for prompt in files:
        if prompt.spec.name in first_seen:
            problems.append(
                PromptFileProblem(
                    prompt.path,
                    None,
                    f"prompt name {prompt.spec.name!r} is already used by {first_seen[prompt.spec.name]}",
                )
            )
        first_seen.setdefault(prompt.spec.name, prompt.path)
    if problems:
        raise PromptFileError(problems)
    return files
