"""The chat gateway core: request context, orchestration and streaming (no Azure Functions types)."""

from shared.gateway.context import JsonReply, Reply, RequestContext, StreamReply
from shared.gateway.service import ChatGateway

__all__ = ["ChatGateway", "JsonReply", "Reply", "RequestContext", "StreamReply"]
