"""Drift and quality monitors over the request log and feedback (definitions, pure monitors, the runner)."""
