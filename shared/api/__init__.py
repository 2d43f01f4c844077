"""The OpenAI-compatible HTTP contract: request schemas and the error shape."""

from shared.api.errors import ApiError
from shared.api.schemas import ChatCompletionRequest, parse_chat_request

__all__ = ["ApiError", "ChatCompletionRequest", "parse_chat_request"]
