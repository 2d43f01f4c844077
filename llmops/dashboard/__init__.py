"""The local dashboard (``llmops dashboard``) and the self-contained report (``llmops report``)."""
