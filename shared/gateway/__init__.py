"""The gateway core: one request pipeline for every endpoint (no Azure Functions types).

``pipeline.Gateway`` runs a request; ``endpoints`` defines each endpoint kind as a parser and a list
of ``steps``; ``recorder`` owns the end of every request; ``streaming`` relays model streams;
``context`` is what travels through. See ``endpoints`` for how to add an endpoint kind.
"""

from shared.gateway.context import ChatContext, JsonReply, Reply, RequestContext, StreamReply
from shared.gateway.endpoints import Endpoint
from shared.gateway.pipeline import Gateway

__all__ = ["ChatContext", "Endpoint", "Gateway", "JsonReply", "Reply", "RequestContext", "StreamReply"]
