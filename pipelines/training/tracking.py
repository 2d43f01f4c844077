"""Metric logging for the component scripts: every value goes to a JSON-lines file in the step's
output, and to MLflow when a tracking server is configured (Azure ML sets ``MLFLOW_TRACKING_URI``
in every job, so the metrics show on the run's page)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class MetricsLog:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._mlflow: Any = None
        if os.environ.get("MLFLOW_TRACKING_URI"):
            try:
                import mlflow

                self._mlflow = mlflow
            except ImportError:
                self._mlflow = None

    def log(self, step: int | None, metrics: dict[str, float]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"step": step, **metrics}) + "\n")
        if self._mlflow is not None:
            self._mlflow.log_metrics(metrics, step=step)

    def params(self, params: dict[str, Any]) -> None:
        if self._mlflow is not None:
            self._mlflow.log_params({k: str(v) for k, v in params.items()})
