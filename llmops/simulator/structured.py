"""Structured answers for the simulator: JSON that validates against a JSON Schema.

``value_for_schema(schema, hints, rng)`` builds a value for the subset of JSON Schema that OpenAI's
structured outputs accept (and a little more): ``type`` (one or a list), ``properties`` /
``required`` / ``additionalProperties``, ``items`` / ``prefixItems`` / ``minItems`` / ``maxItems`` /
``uniqueItems``, ``enum`` / ``const``, ``anyOf`` / ``oneOf`` / ``allOf``, local ``$ref``
(``#/$defs/...``, ``#/definitions/...``, ``#``), string ``format`` (date, date-time, time, email,
uri, uuid, ipv4, hostname), ``minLength`` / ``maxLength``, a few common ``pattern`` shapes, and
numeric bounds with ``multipleOf``. Strings are made from the request (``Hints``: the user's words,
a sentence of the answer) so that a reply reads like one, and the same request gives the same value.

Every value is checked by ``tests/unit/simulator`` with ``jsonschema`` against the schema it was made for.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import uuid
from dataclasses import dataclass
from typing import Any

SHALLOW_DEPTH = 3  # deeper than this, only what the schema requires (recursive schemas end)


@dataclass(frozen=True)
class Hints:
    """What a generated string may borrow from: the user's content words and a sentence of prose."""

    words: tuple[str, ...]
    sentence: str
    numbers: tuple[str, ...] = ()


_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")


def hints_from(text: str, sentence: str, stopwords: frozenset[str]) -> Hints:
    words = tuple(w for w in _WORD.findall(text) if w.lower() not in stopwords)
    return Hints(words or ("request",), sentence or "Here is the requested information.",
                 tuple(_NUMBER.findall(text)))


class _Resolver:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def resolve(self, schema: Any) -> dict[str, Any]:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 32:
            ref = schema["$ref"]
            target: Any = self.root
            if ref != "#":
                if not isinstance(ref, str) or not ref.startswith("#/"):
                    raise ValueError(f"only local $ref are supported, not {ref!r}")
                for part in ref[2:].split("/"):
                    target = target[part.replace("~1", "/").replace("~0", "~")]
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest} if rest else target
            seen += 1
        return schema if isinstance(schema, dict) else {}


def value_for_schema(schema: dict[str, Any], hints: Hints, rng: random.Random) -> Any:
    """A value valid against ``schema`` (a JSON Schema object)."""
    return _Generator(_Resolver(schema), hints, rng).value(schema, "value", 0)


class _Generator:
    def __init__(self, resolver: _Resolver, hints: Hints, rng: random.Random) -> None:
        self.resolver = resolver
        self.hints = hints
        self.rng = rng

    def value(self, schema: Any, name: str, depth: int) -> Any:
        if schema is True or schema is None:
            schema = {}
        if schema is False:
            raise ValueError(f"no value satisfies the schema of {name!r}")
        schema = self.resolver.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self._pick_enum(schema["enum"])
        if "allOf" in schema:
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                merged = _merge(merged, self.resolver.resolve(part))
            return self.value(merged, name, depth)
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                options = [self.resolver.resolve(o) for o in schema[key]]
                # prefer a real value over null (pydantic's Optional[...] is anyOf [T, null])
                chosen = next((o for o in options if o.get("type") != "null"), options[0])
                base = {k: v for k, v in schema.items() if k != key}
                return self.value(_merge(base, chosen), name, depth)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        maker = getattr(self, f"_{kind}", None)
        if maker is None:
            raise ValueError(f"unsupported type {kind!r} for {name!r}")
        return maker(schema, name, depth)

    def _pick_enum(self, values: list[Any]) -> Any:
        lowered = " ".join(self.hints.words).lower()
        mentioned = [v for v in values if isinstance(v, str) and v.lower() in lowered]
        return mentioned[0] if mentioned else values[self.rng.randrange(len(values))]

    def _null(self, schema: dict[str, Any], name: str, depth: int) -> None:
        return None

    def _boolean(self, schema: dict[str, Any], name: str, depth: int) -> bool:
        return self.rng.random() < 0.5

    def _integer(self, schema: dict[str, Any], name: str, depth: int) -> int:
        low, high = _bounds(schema, integer=True)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            first = -(-low // step) * step
            if first > high:
                raise ValueError(f"no multiple of {step} in [{low}, {high}] for {name!r}")
            return first + step * self.rng.randint(0, (high - first) // step)
        return self.rng.randint(int(low), int(high))

    def _number(self, schema: dict[str, Any], name: str, depth: int) -> float | int:
        if isinstance(schema.get("multipleOf"), int):
            return self._integer(schema, name, depth)
        low, high = _bounds(schema, integer=False)
        value = round(self.rng.uniform(low, high), 2)
        return min(max(value, low), high)

    def _string(self, schema: dict[str, Any], name: str, depth: int) -> str:
        text = _formatted(schema.get("format"), self.rng)
        if text is None:
            text = _patterned(schema.get("pattern"), self.rng)
        if text is None:
            text = self._prose_for(name)
        min_length = int(schema.get("minLength") or 0)
        max_length = schema.get("maxLength")
        while len(text) < min_length:
            text = f"{text} {self.hints.sentence}".strip()
        if isinstance(max_length, int):
            text = text[:max_length].rstrip() or text[:max_length]
            if len(text) < min_length:
                text = text.ljust(min_length, "x")
        return text

    def _prose_for(self, name: str) -> str:
        lowered = name.lower()
        words = self.hints.words
        if any(key in lowered for key in ("summary", "answer", "description", "explanation", "reason", "text",
                                          "message", "content", "reply", "body", "comment", "response")):
            return self.hints.sentence
        if "email" in lowered:
            return f"{words[0].lower()}@example.com"
        if lowered.endswith("id") or "number" in lowered or "code" in lowered:
            numbers = self.hints.numbers
            return numbers[0] if numbers else f"{lowered[:3].upper() or 'ID'}-{self.rng.randint(1000, 9999)}"
        if "date" in lowered:
            return _formatted("date", self.rng) or "2025-01-01"
        if "url" in lowered or "link" in lowered:
            return "https://example.com/" + words[0].lower()
        count = min(len(words), self.rng.randint(1, 3))
        start = self.rng.randrange(max(len(words) - count + 1, 1))
        return " ".join(words[start:start + count]) or name

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
        min_items = int(schema.get("minItems") or 0)
        max_items = schema.get("maxItems")
        wanted = 0 if depth >= SHALLOW_DEPTH else self.rng.randint(1, 3)
        target = max(min_items, len(prefix) if wanted else 0, wanted)
        if isinstance(max_items, int):
            target = min(target, max_items)
        items_schema = schema.get("items", {})
        singular = name[:-1] if name.endswith("s") else name
        out: list[Any] = []
        attempts = 0
        while len(out) < target and attempts < target * 20 + 20:
            attempts += 1
            position = len(out)
            item_schema = prefix[position] if position < len(prefix) else items_schema
            if item_schema is False:
                break
            item = self.value(item_schema, singular, depth + 1)
            if schema.get("uniqueItems") and item in out:
                continue
            out.append(item)
        return out

    def _object(self, schema: dict[str, Any], name: str, depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        out: dict[str, Any] = {}
        required = schema.get("required") or []
        for key, sub in properties.items():
            if depth < SHALLOW_DEPTH or key in required:
                out[key] = self.value(sub, key, depth + 1)
        for key in required:
            if key not in out:
                extra = schema.get("additionalProperties")
                out[key] = self.value(extra if isinstance(extra, dict) else {}, key, depth + 1)
        minimum = int(schema.get("minProperties") or 0)
        extra = schema.get("additionalProperties", True)
        index = 0
        while len(out) < minimum and extra is not False:
            index += 1
            out[f"field_{index}"] = self.value(extra if isinstance(extra, dict) else {}, "field", depth + 1)
        return out


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    merged = {**a, **b}
    if "properties" in a and "properties" in b:
        merged["properties"] = {**a["properties"], **b["properties"]}
    if "required" in a and "required" in b:
        merged["required"] = list(dict.fromkeys([*a["required"], *b["required"]]))
    return merged


def _bounds(schema: dict[str, Any], *, integer: bool) -> tuple[Any, Any]:
    low = schema.get("minimum", 1 if integer else 1.0)
    high = schema.get("maximum")
    exclusive_low, exclusive_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(exclusive_low, int | float) and not isinstance(exclusive_low, bool):
        low = max(low, exclusive_low + (1 if integer else 0.01))
    if isinstance(exclusive_high, int | float) and not isinstance(exclusive_high, bool):
        high = exclusive_high - (1 if integer else 0.01) if high is None else min(high, exclusive_high - (
            1 if integer else 0.01))
    if high is None:
        high = max(low, 0) + (10 if integer else 100.0)
    if low > high:
        low = high if "minimum" not in schema else low
    if integer:
        import math

        return math.ceil(low), math.floor(high)
    return float(low), float(high)


def _formatted(fmt: object, rng: random.Random) -> str | None:
    day = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(365))
    if fmt == "date":
        return day.isoformat()
    if fmt == "date-time":
        return f"{day.isoformat()}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z"
    if fmt == "time":
        return f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z"
    if fmt == "email":
        return f"customer{rng.randrange(1000)}@example.com"
    if fmt in ("uri", "url", "iri"):
        return f"https://example.com/items/{rng.randrange(10_000)}"
    if fmt == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if fmt == "ipv4":
        return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    if fmt in ("hostname", "idn-hostname"):
        return f"host{rng.randrange(100)}.example.com"
    if fmt == "duration":
        return f"P{rng.randint(1, 30)}D"
    return None


_CLASS = {r"\d": "0123456789", "[0-9]": "0123456789", "[A-Z]": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
          "[a-z]": "abcdefghijklmnopqrstuvwxyz", r"\w": "abcdefghijklmnopqrstuvwxyz0123456789",
          "[A-Za-z]": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
          "[a-zA-Z]": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
          "[A-Z0-9]": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"}
_TOKEN = re.compile(r"(\\d|\\w|\[[^\]]+\]|\\.|[^\\\[{}()*+?|^$])(\{(\d+)(?:,(\d*))?\}|[+*?])?")


def _patterned(pattern: object, rng: random.Random) -> str | None:
    """A string matching a simple anchored pattern (literals, classes, {n,m}/+/*/?); None for others."""
    if not isinstance(pattern, str):
        return None
    body = pattern.removeprefix("^").removesuffix("$")
    if any(ch in body for ch in "()|"):
        return None
    out: list[str] = []
    position = 0
    while position < len(body):
        match = _TOKEN.match(body, position)
        if match is None:
            return None
        atom, quantifier, low, high = match.group(1), match.group(2), match.group(3), match.group(4)
        if quantifier is None:
            count = 1
        elif quantifier == "+":
            count = rng.randint(1, 3)
        elif quantifier == "*":
            count = rng.randint(0, 3)
        elif quantifier == "?":
            count = rng.randint(0, 1)
        else:
            count = int(low) if high in (None, "") and "," not in quantifier else rng.randint(
                int(low), int(high) if high else int(low) + 3)
        alphabet = _CLASS.get(atom)
        if alphabet is None and atom.startswith("["):
            return None
        if alphabet is None:
            alphabet = atom[1:] if atom.startswith("\\") else atom
        out.extend(rng.choice(alphabet) for _ in range(count))
        position = match.end()
    text = "".join(out)
    return text if re.fullmatch(pattern.removeprefix("^").removesuffix("$"), text) else None
