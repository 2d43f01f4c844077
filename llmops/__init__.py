"""Developer and operator tooling (not deployed): the ``llmops`` CLI, the local host and the
Azure OpenAI simulator. The deployed core lives in ``shared/``; the Functions triggers in ``functions/``."""
