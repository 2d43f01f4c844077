"""The Responses API: request/item translation to and from Chat Completions, stream events."""
