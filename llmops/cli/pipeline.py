"""``llmops pipeline``: build, validate, run and submit the retraining pipeline.

build [--out DIR] [--snapshot URI]             write pipeline.yml (+ code, environments), validate it
run-local [--snapshot FILE | --synthetic N]    run every step locally (a tiny model by default)
submit --snapshot URI [--dataset-id ID --snapshot-id ID]   submit to Azure ML, once per snapshot
status RUN_ID --dataset-id ID                  refresh a recorded run
serve-spec --model NAME:VERSION                write the online endpoint / deployment YAML
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from llmops.cli import CliError

DEFAULT_SNAPSHOT_URI = "azureml://datastores/workspaceblobstore/paths/llmops/snapshots/latest.jsonl"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("pipeline", help="build, run and submit the Azure ML retraining pipeline")
    commands = parser.add_subparsers(dest="pipeline_command", metavar="COMMAND", required=True)

    build = commands.add_parser("build", help="write the pipeline YAML and validate it offline")
    build.add_argument("--out", type=Path, help="output folder (default: <data_dir>/pipeline)")
    build.add_argument("--snapshot", default=DEFAULT_SNAPSHOT_URI, help="snapshot file or URI to bind")
    build.add_argument("--snapshot-id", help="derive the job name from this snapshot id")
    build.add_argument(
        "--regression-set", help="regression set file or URI (default: settings / bundled set)"
    )
    build.add_argument("--production-model", help="azureml:<name>:<version> of the model to beat")
    build.set_defaults(func=_build)

    local = commands.add_parser("run-local", help="run the component scripts locally, end to end")
    _run_arguments(local, local=True)
    local.set_defaults(func=_run_local)

    submit = commands.add_parser("submit", help="submit the pipeline to Azure ML (idempotent per snapshot)")
    _run_arguments(submit, local=False)
    submit.set_defaults(func=_submit)

    status = commands.add_parser("status", help="refresh and show a recorded run")
    status.add_argument("run_id")
    status.add_argument("--dataset-id", required=True)
    status.set_defaults(func=_status)

    serve = commands.add_parser("serve-spec", help="write the managed online endpoint and deployment YAML")
    serve.add_argument("--model", required=True, help="registered model as NAME:VERSION")
    serve.add_argument("--out", type=Path, help="output folder (default: <data_dir>/serving)")
    serve.set_defaults(func=_serve_spec)


def _run_arguments(parser: argparse.ArgumentParser, *, local: bool) -> None:
    source = parser.add_mutually_exclusive_group(required=not local)
    source.add_argument(
        "--snapshot", help="JSONL snapshot of training examples" + ("" if local else " (file or URI)")
    )
    if local:
        source.add_argument(
            "--synthetic", type=int, metavar="N", help="generate N synthetic examples (default 240)"
        )
    parser.add_argument("--dataset-id", help="dataset the snapshot belongs to (default: from the examples)")
    parser.add_argument("--snapshot-id", help="snapshot identity (default: digest of the file)")
    parser.add_argument("--production-model", help="the model to beat (local: an adapter folder)")
    if local:
        parser.add_argument("--base-model", help="'tiny' (created in code) or a hub id / path")


def _settings():
    from shared.config import get_settings

    return get_settings()


def _build(args: argparse.Namespace) -> int:
    from pipelines.definition import PipelineValidationError, build_pipeline_job, write_pipeline
    from pipelines.parameters import REGRESSION_SET, PipelineParameters
    from shared.retraining.contract.runs import job_name_for

    settings = _settings()
    out = (args.out or settings.data_dir / "pipeline").resolve()
    regression = args.regression_set or settings.training_regression_set or str(REGRESSION_SET)
    if not args.snapshot.startswith(("azureml:", "https://")) and not Path(args.snapshot).is_file():
        raise CliError(f"snapshot {args.snapshot} not found")
    out.mkdir(parents=True, exist_ok=True)
    job = build_pipeline_job(
        PipelineParameters.from_settings(settings),
        workdir=out,
        snapshot=args.snapshot,
        regression_set=regression,
        production_model=args.production_model or settings.training_production_model,
        gpu_compute=settings.azureml_gpu_compute,
        cpu_compute=settings.azureml_cpu_compute,
        experiment_name=settings.azureml_experiment,
        job_name=job_name_for(args.snapshot_id) if args.snapshot_id else None,
    )
    try:
        path = write_pipeline(
            job, out, local_inputs=[("snapshot", args.snapshot), ("regression_set", regression)]
        )
    except PipelineValidationError as exc:
        raise CliError(f"the pipeline does not validate: {exc}") from exc
    print(f"wrote {path} (validated offline, reloaded with load_job)")
    for name, node in job.jobs.items():
        environment = node.environment
        print(f"  {name:10} {node.compute:14} environment {environment.name}:{environment.version}")
    return 0


def _snapshot_identity(path: Path, dataset_id: str | None, snapshot_id: str | None) -> tuple[str, str]:
    from shared.retraining.contract.examples import SnapshotError, read_examples

    try:
        examples = read_examples(path)
    except (OSError, SnapshotError) as exc:
        raise CliError(str(exc)) from exc
    if not examples:
        raise CliError(f"{path}: no examples")
    dataset = dataset_id or examples[0].dataset_id
    snapshot = snapshot_id or f"{dataset}@{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"
    return dataset, snapshot


async def _with_service(settings: Any, runner: Any, action):
    from shared.retraining.runner import RetrainingService
    from shared.retraining.runs import TrainingRunStore
    from shared.store import build_store

    store = build_store(settings)
    await store.open()
    try:
        return await action(RetrainingService(runner, TrainingRunStore(store)))
    finally:
        await store.close()


def _print_run(run: Any) -> None:
    print(f"run {run.id}: {run.status}" + (f" ({run.error})" if run.error else ""))
    training = run.metrics.get("training", {})
    if training:
        t = {key: training.get(key) or 0 for key in training}
        print(
            f"  training: {t.get('steps', 0)} steps, "
            f"loss {t.get('first_loss', 0):.3f} -> {t.get('final_loss', 0):.3f}, "
            f"validation loss {t.get('eval_loss_before', 0):.3f} -> {t.get('eval_loss_after', 0):.3f}, "
            f"{t.get('tokens_per_second', 0):.0f} tokens/s"
        )
    for suite, result in run.metrics.get("evaluation", {}).items():
        c, p = result["candidate"], result["production"]
        print(
            f"  {suite}: rouge_l {c['metrics'].get('rouge_l', 0):.3f} vs production "
            f"{p['metrics'].get('rouge_l', 0):.3f}; guardrails {c['guardrail_pass_rate']:.2f} vs "
            f"{p['guardrail_pass_rate']:.2f}; p95 {c['p95_latency_ms']:.0f} vs {p['p95_latency_ms']:.0f} ms"
        )
    if run.gate is not None:
        failed = [f"{c['suite']}/{c['name']}: {c['detail']}" for c in run.gate["checks"] if not c["passed"]]
        print("  gate: " + ("passed" if run.gate_passed else "failed: " + "; ".join(failed)))
    if run.registered_model:
        print(f"  registered: {run.registered_model['uri']}")
    if run.output_dir:
        print(f"  outputs: {run.output_dir}")
    if run.studio_url:
        print(f"  studio: {run.studio_url}")


def _run_local(args: argparse.Namespace) -> int:
    from shared.extras import require_extra

    require_extra("train-deps", "llmops pipeline run-local")
    from pipelines.runners.local import LocalTrainingRunner
    from pipelines.training.sample_data import synthetic_examples
    from shared.retraining.contract.examples import write_examples
    from shared.retraining.contract.runs import TrainingRequest

    settings = _settings()
    if args.snapshot:
        snapshot = Path(args.snapshot)
    else:
        snapshot = (settings.data_dir / "snapshots" / f"synthetic-{args.synthetic or 240}.jsonl").resolve()
        write_examples(snapshot, synthetic_examples(args.synthetic or 240))
    dataset_id, snapshot_id = _snapshot_identity(snapshot, args.dataset_id, args.snapshot_id)
    overrides = {"local_base_model": args.base_model} if args.base_model else {}
    runner = LocalTrainingRunner.from_settings(settings, **overrides)
    request = TrainingRequest(
        dataset_id=dataset_id,
        snapshot_id=snapshot_id,
        snapshot_uri=str(snapshot.resolve()),
        production_model=args.production_model,
        reason="llmops pipeline run-local",
    )
    print(f"running the pipeline locally on {snapshot} (snapshot {snapshot_id}) ...")
    from llmops.cli._progress import working

    with working("training run: staging") as progress:
        async def main() -> Any:
            watcher = asyncio.create_task(_show_steps(runner.runs_root, progress)) if progress else None
            try:
                return await _with_service(settings, runner, lambda service: service.start(request))
            finally:
                if watcher is not None:
                    watcher.cancel()

        run = asyncio.run(main())
    _print_run(run)
    return 0 if run.status == "completed" else 1


async def _show_steps(runs_root: Path, progress: Any) -> None:
    """Name the step running now (its log is the newest one under the runs folder) on the spinner."""
    started = time.time()
    while True:
        logs = [p for p in runs_root.glob("*/*.log") if p.stat().st_mtime >= started - 1]
        if logs:
            newest = max(logs, key=lambda p: p.stat().st_mtime)
            progress.update(progress.task_ids[0], description=f"training run: step {newest.stem} (log: {newest})")
        await asyncio.sleep(0.5)


def _submit(args: argparse.Namespace) -> int:
    from pipelines.runners.azureml import AzureMLTrainingRunner
    from shared.retraining.contract.runs import TrainingRequest

    settings = _settings()
    try:
        runner = AzureMLTrainingRunner.from_settings(settings)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    local = Path(args.snapshot)
    if local.is_file():
        dataset_id, snapshot_id = _snapshot_identity(local, args.dataset_id, args.snapshot_id)
        snapshot_uri = str(local.resolve())
    elif args.dataset_id and args.snapshot_id:
        dataset_id, snapshot_id, snapshot_uri = args.dataset_id, args.snapshot_id, args.snapshot
    else:
        raise CliError("a remote snapshot URI needs --dataset-id and --snapshot-id")
    request = TrainingRequest(
        dataset_id=dataset_id,
        snapshot_id=snapshot_id,
        snapshot_uri=snapshot_uri,
        production_model=args.production_model or settings.training_production_model,
        reason="llmops pipeline submit",
    )
    run = asyncio.run(_with_service(settings, runner, lambda service: service.start(request)))
    _print_run(run)
    return 0


def _status(args: argparse.Namespace) -> int:
    from shared.runtime import build_training_runner

    settings = _settings()
    try:
        runner = build_training_runner(settings)
        run = asyncio.run(_with_service(settings, runner, lambda s: s.refresh(args.run_id, args.dataset_id)))
    except (KeyError, ValueError) as exc:
        raise CliError(str(exc.args[0] if exc.args else exc)) from exc
    _print_run(run)
    print(json.dumps(run.gate or {}, indent=2) if run.gate else "")
    return 0


def _serve_spec(args: argparse.Namespace) -> int:
    from shared.retraining.contract.registry import RegisteredModel
    from shared.retraining.serving import AzureMLServingDeployer, ServingConfig

    name, _, version = args.model.partition(":")
    if not name or not version:
        raise CliError("--model takes NAME:VERSION, e.g. llmops-candidate:3")
    settings = _settings()
    model = RegisteredModel(name=name, version=version, uri=f"azureml:{name}:{version}", registry="azureml")
    deployer = AzureMLServingDeployer(None, ServingConfig.from_settings(settings))
    out = (args.out or settings.data_dir / "serving").resolve()
    for path in deployer.write_entities(model, out):
        print(f"wrote {path}")
    endpoint = deployer.endpoint_for(
        model, f"https://{settings.serving_endpoint_name}.<region>.inference.ml.azure.com"
    )
    print(
        f"the gateway calls: base_url {endpoint.base_url}, model {endpoint.model}, headers {endpoint.headers}"
    )
    return 0
