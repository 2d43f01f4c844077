"""The Azure Monitor workbook, generated from the one panel list (``shared.observability.panels``) that
the local dashboard is generated from too. ``python -m infra.workbook_build`` rewrites
``infra/workbook/gateway.workbook.json`` (kept in the repository for review and for importing by hand);
a test checks the file is what this module builds.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from shared.observability.panels import PANELS, Panel
from shared.observability.story import REQUEST_ID_PARAMETER

WORKBOOK_FILE = Path(__file__).resolve().parent / "workbook" / "gateway.workbook.json"
WORKSPACE = "microsoft.operationalinsights/workspaces"
LEVEL_TITLES = {"infrastructure": "Infrastructure", "model": "Model behaviour", "business": "Business",
                "requests": "One request"}
_VISUALIZATION = {"timechart": "timechart", "barchart": "barchart", "piechart": "piechart", "table": "table"}
_IDS = uuid.UUID("6a1f0c52-2b1e-4c55-9d0e-1f6b0c7e0a01")  # parameter ids: stable across regenerations

INTRO = ("## LLMOps gateway\nThree monitoring levels (infrastructure, model behaviour, business), the drift "
         "monitors and one request's story. Spans of kind CLIENT are in `AppDependencies`, metrics in "
         "`AppMetrics`, logs in `AppTraces` (dimensions in `Properties`). Generated from "
         "`shared/observability/panels.py`, like the local dashboard (`llmops dashboard`); telemetry names: "
         "`shared/observability/names.py`.")


def _parameters() -> dict[str, Any]:
    hours = (1, 4, 24, 24 * 7, 24 * 30)
    return {"type": 9, "name": "parameters", "content": {
        "version": "KqlParameterItem/1.0", "style": "pills", "queryType": 0, "resourceType": WORKSPACE,
        "parameters": [
            {"id": str(_IDS), "version": "KqlParameterItem/1.0", "name": "TimeRange", "label": "Time range",
             "type": 4, "isRequired": True, "value": {"durationMs": 86_400_000},
             "typeSettings": {"selectableValues": [{"durationMs": h * 3_600_000} for h in hours],
                              "allowCustom": True}},
            {"id": str(uuid.uuid5(_IDS, REQUEST_ID_PARAMETER)), "version": "KqlParameterItem/1.0",
             "name": REQUEST_ID_PARAMETER, "label": "Request id", "type": 1, "isRequired": False, "value": ""},
        ]}}


def panel_item(panel: Panel) -> dict[str, Any]:
    return {"type": 3, "name": panel.key, "customWidth": "100" if panel.level == "requests" else "50", "content": {
        "version": "KqlItem/1.0", "query": panel.kql, "size": 0, "title": panel.title,
        "timeContextFromParameter": "TimeRange", "queryType": 0, "resourceType": WORKSPACE,
        "visualization": _VISUALIZATION[panel.chart]}}


def build_workbook() -> dict[str, Any]:
    items: list[dict[str, Any]] = [{"type": 1, "name": "title", "content": {"json": INTRO}}, _parameters()]
    for level, title in LEVEL_TITLES.items():
        items.append({"type": 1, "name": f"level-{level}", "content": {"json": f"### {title}"}})
        items.extend(panel_item(p) for p in PANELS if p.level == level)
    return {"version": "Notebook/1.0", "items": items, "fallbackResourceIds": [],
            "$schema": "https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json"}


def write(path: Path = WORKBOOK_FILE) -> None:
    path.write_text(json.dumps(build_workbook(), indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write()
    print(f"wrote {WORKBOOK_FILE}")
