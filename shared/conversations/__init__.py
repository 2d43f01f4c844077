"""Conversation memory (``memory``) and stored Responses API responses on it (``responses``)."""
