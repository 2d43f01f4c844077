"""Responses API items <-> Chat Completions messages.

``input_to_messages`` turns a Responses ``input`` (a string, or a list of items) and ``instructions``
into chat messages: ``message`` items (``input_text``, ``input_image``, ``input_file`` and
``output_text`` / ``refusal`` parts) become messages with the same role; consecutive
``function_call`` items become one assistant message with ``tool_calls``; ``function_call_output``
becomes a ``tool`` message; ``reasoning`` items carry nothing a chat model can use and are left
out. ``messages_to_input`` goes the other way (conversation memory, kept as chat messages, sent
to a deployment that speaks the Responses API). Anything else is an ``ItemError`` naming the item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Message = dict[str, Any]
ROLES = ("user", "assistant", "system", "developer")


class ItemError(ValueError):
    """An input item the gateway cannot translate; ``param`` names it (``input[3].content[0]``)."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def _text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _part(part: Any, role: str, where: str) -> dict[str, Any] | str:
    if not isinstance(part, dict):
        raise ItemError("A content part must be an object.", where)
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        if not isinstance(part.get("text"), str):
            raise ItemError(f"'{kind}' needs a string 'text'.", f"{where}.text")
        return {"type": "text", "text": part["text"]}
    if kind == "refusal":
        return {"type": "text", "text": _text_of(part.get("refusal"))}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise ItemError("'input_image' needs an 'image_url' (file_id images are not supported here).",
                            f"{where}.image_url")
        image: dict[str, Any] = {"url": url}
        if part.get("detail") in ("low", "high", "auto"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        if not isinstance(part.get("file_data"), str):
            raise ItemError("'input_file' needs inline 'file_data' (file_id is not supported here).", where)
        return {"type": "file", "file": {k: part[k] for k in ("file_data", "filename") if k in part}}
    raise ItemError(f"Unsupported content part type {kind!r} for role {role}.", f"{where}.type")


def _message(item: dict[str, Any], where: str) -> Message:
    role = item.get("role")
    if role not in ROLES:
        raise ItemError(f"Unsupported role {role!r}; use one of {', '.join(ROLES)}.", f"{where}.role")
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list) or not content:
        raise ItemError("'content' must be a string or a non-empty list of parts.", f"{where}.content")
    parts = [_part(p, role, f"{where}.content[{i}]") for i, p in enumerate(content)]
    if role != "user" and all(isinstance(p, dict) and p.get("type") == "text" for p in parts):
        # chat accepts only text parts outside user messages: join them
        return {"role": role, "content": "".join(p["text"] for p in parts if isinstance(p, dict))}
    return {"role": role, "content": parts}


def input_to_messages(input_value: Any, instructions: str | None = None) -> list[Message]:
    messages: list[Message] = [{"role": "system", "content": instructions}] if instructions else []
    if isinstance(input_value, str):
        return [*messages, {"role": "user", "content": input_value}]
    if not isinstance(input_value, list):
        raise ItemError("'input' must be a string or a list of items.", "input")
    for index, item in enumerate(input_value):
        where = f"input[{index}]"
        if not isinstance(item, dict):
            raise ItemError("An input item must be an object.", where)
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_message(item, where))
        elif kind == "function_call":
            call_id, name = item.get("call_id"), item.get("name")
            if not isinstance(call_id, str) or not isinstance(name, str):
                raise ItemError("'function_call' needs 'call_id' and 'name'.", where)
            call = {"id": call_id, "type": "function",
                    "function": {"name": name, "arguments": _text_of(item.get("arguments")) or "{}"}}
            last = messages[-1] if messages else None
            if last is not None and last.get("role") == "assistant" and last.get("tool_calls") and not last.get(
                    "content"):
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            call_id, output = item.get("call_id"), item.get("output")
            if not isinstance(call_id, str):
                raise ItemError("'function_call_output' needs a 'call_id'.", f"{where}.call_id")
            if isinstance(output, list):  # a list of output parts: keep their text
                output = "".join(_text_of(p.get("text")) for p in output if isinstance(p, dict))
            if not isinstance(output, str):
                raise ItemError("'function_call_output' needs a string 'output'.", f"{where}.output")
            messages.append({"role": "tool", "tool_call_id": call_id, "content": output})
        elif kind == "reasoning":
            continue
        elif kind == "item_reference":
            raise ItemError("Item references are not supported; send the items or use previous_response_id.",
                            where)
        else:
            raise ItemError(f"Unsupported input item type {kind!r}.", f"{where}.type")
    return messages


def _content_parts(content: Any, role: str) -> list[dict[str, Any]]:
    text_type = "output_text" if role == "assistant" else "input_text"
    if isinstance(content, str):
        return [{"type": text_type, "text": content, **({"annotations": []} if role == "assistant" else {})}]
    out = []
    for part in content or []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            out.append({"type": text_type, "text": part.get("text", ""),
                        **({"annotations": []} if role == "assistant" else {})})
        elif part.get("type") == "image_url":
            image = part.get("image_url") or {}
            out.append({"type": "input_image", "image_url": image.get("url"), "detail": image.get("detail", "auto")})
    return out


def messages_to_input(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Chat messages as Responses input items (system messages included, as ``system`` role items)."""
    items: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "tool":
            items.append({"type": "function_call_output", "call_id": message.get("tool_call_id"),
                          "output": _text_of(message.get("content"))})
            continue
        if message.get("content"):
            items.append({"type": "message", "role": role, "content": _content_parts(message["content"], str(role))})
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            items.append({"type": "function_call", "call_id": call.get("id"), "name": function.get("name"),
                          "arguments": function.get("arguments") or "{}"})
    return items
