"""register: apply the evaluation gate and register the candidate only if it passes.

Output folder: ``registration.json`` (gate decision with every check, the registered model if any,
the dataset manifest and the training metrics), and ``model/`` (the folder that was registered:
the adapter plus ``evaluation_report.json`` and ``gate_decision.json``). A failed gate is a normal
outcome, not a failed step: the run completes and the decision explains why nothing was registered.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from pipelines.components.evaluate import REPORT_FILE
from pipelines.components.finetune import METRICS_FILE
from pipelines.components.prepare import MANIFEST
from pipelines.components.spec import REGISTER
from shared.retraining.contract.gate import GateThresholds, decide_on_report
from shared.retraining.contract.registry import AzureMLModelRegistry, LocalModelRegistry, ModelRegistry
from shared.retraining.contract.report import EvaluationReport

REGISTRATION_FILE = "registration.json"


def _registry(kind: str, local_dir: str | None) -> ModelRegistry:
    if kind == "local":
        if not local_dir:
            raise ValueError("--registry local needs --local-registry-dir")
        return LocalModelRegistry(Path(local_dir))
    if kind == "azureml":
        return AzureMLModelRegistry.from_job_environment()
    raise ValueError(f"unknown registry {kind!r} (azureml or local)")


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def main(argv: Sequence[str] | None = None) -> int:
    args = REGISTER.parse_args(argv)
    report = EvaluationReport.model_validate_json((args.report / REPORT_FILE).read_text(encoding="utf-8"))
    thresholds = GateThresholds(
        quality_metric=args.quality_metric,
        quality_tolerance=args.quality_tolerance,
        guardrail_tolerance=args.guardrail_tolerance,
        max_p95_latency_ms=args.max_p95_latency_ms,
        max_latency_ratio=args.max_latency_ratio,
        max_cost_per_request_usd=args.max_cost_per_request_usd,
        max_cost_ratio=args.max_cost_ratio,
        min_requests=args.min_requests,
    )
    decision = decide_on_report(report, thresholds)
    manifest = _read_json(args.dataset / MANIFEST)
    training = _read_json(args.adapter / METRICS_FILE)
    print(f"register: {decision.summary()}")

    registered = None
    if decision.passed:
        model_dir = args.decision / "model"
        shutil.copytree(args.adapter, model_dir, dirs_exist_ok=True)
        shutil.copy(args.report / REPORT_FILE, model_dir / REPORT_FILE)
        (model_dir / "gate_decision.json").write_text(decision.model_dump_json(indent=2), encoding="utf-8")
        tags = {
            "gate": "passed",
            "base_model": str(training.get("base_model", "")),
            "method": str(training.get("method", "")),
            "snapshot_sha256": str(manifest.get("snapshot_sha256", "")),
            "dataset_ids": ",".join(manifest.get("dataset_ids", [])),
            **{
                f"{suite}.{args.quality_metric}": f"{c.candidate.metrics.get(args.quality_metric, 0):.4f}"
                for suite, c in report.suites.items()
            },
        }
        try:
            registry = _registry(args.registry, args.local_registry_dir)
        except (ValueError, RuntimeError) as exc:
            print(f"register: {exc}", file=sys.stderr)
            return 1
        registered = registry.register(
            args.model_name, model_dir, tags=tags, description=f"LoRA adapter; {decision.summary()}"
        )
        print(f"register: registered {registered.uri}")

    args.decision.mkdir(parents=True, exist_ok=True)
    registration = {
        "gate": decision.model_dump(),
        "passed": decision.passed,
        "summary": decision.summary(),
        "registered_model": registered.model_dump() if registered else None,
        "manifest": manifest,
        "training": {k: v for k, v in training.items() if k != "loss_curve"},
        "evaluation": {
            suite: {
                "candidate": c.candidate.model_dump(exclude={"samples"}),
                "production": c.production.model_dump(exclude={"samples"}),
            }
            for suite, c in report.suites.items()
        },
    }
    (args.decision / REGISTRATION_FILE).write_text(json.dumps(registration, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
