"""Local adapter of the training-runner port: the pipeline's component scripts, run one after the
other in subprocesses from a staged code folder, exactly as Azure ML runs them (same command-line
interface, same outputs), on this machine's CPU or GPU.

With ``training_local_base_model = "tiny"`` a tiny model is created in code first (tokenizer
trained on the snapshot), so the whole loop runs on a CPU in well under a minute. Runs land in
``<data_dir>/training_runs/<run id>/`` (one folder per step output, a log per step, ``run.json``);
registered models in ``<data_dir>/models/<name>/<version>/``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from shared.config import Settings
from shared.retraining.contract.runs import TrainingRequest, TrainingRun

RUN_FILE = "run.json"


class LocalTrainingRunner:
    kind = "local"

    def __init__(
        self,
        params: Any,  # pipelines.parameters.PipelineParameters
        runs_root: Path,
        *,
        registry_dir: Path,
        regression_set: Path | None,
        local_base_model: str = "tiny",
        python: str = sys.executable,
        step_timeout_s: float = 3600.0,
    ):
        self.params = params
        self.runs_root = runs_root.resolve()
        self.registry_dir = registry_dir
        self.regression_set = regression_set
        self.local_base_model = local_base_model
        self.python = python
        self.step_timeout_s = step_timeout_s

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> LocalTrainingRunner:
        from pipelines.parameters import REGRESSION_SET, PipelineParameters

        regression = Path(settings.training_regression_set) if settings.training_regression_set else REGRESSION_SET
        kwargs: dict[str, Any] = {
            "registry_dir": settings.data_dir / "models",
            "regression_set": regression if regression.exists() else None,
            "local_base_model": settings.training_local_base_model,
        }
        kwargs.update(overrides)
        return cls(PipelineParameters.from_settings(settings), settings.data_dir / "training_runs", **kwargs)

    # -- the port ---------------------------------------------------------------------------
    async def submit(self, request: TrainingRequest, *, run_id: str) -> TrainingRun:
        run_dir = self.runs_root / run_id
        if (run_dir / RUN_FILE).exists():
            return TrainingRun.model_validate_json((run_dir / RUN_FILE).read_text(encoding="utf-8"))
        run = TrainingRun(
            id=run_id,
            dataset_id=request.dataset_id,
            snapshot_id=request.snapshot_id,
            snapshot_uri=request.snapshot_uri,
            runner="local",
            status="running",
            production_model=request.production_model,
            output_dir=str(run_dir.resolve()),
        )
        try:
            registration = await self._run_pipeline(request, run_dir)
        except StepFailedError as exc:
            run = run.model_copy(update={"status": "failed", "error": str(exc), "updated_at": time.time()})
        else:
            run = run.with_outcome(registration).model_copy(update={"status": "completed"})
        (run_dir / RUN_FILE).write_text(run.model_dump_json(indent=2), encoding="utf-8")
        return run

    async def refresh(self, run: TrainingRun) -> TrainingRun:
        path = self.runs_root / run.id / RUN_FILE
        if path.exists():
            return TrainingRun.model_validate_json(path.read_text(encoding="utf-8"))
        return run

    # -- the pipeline, step by step ---------------------------------------------------------
    async def _run_pipeline(self, request: TrainingRequest, run_dir: Path) -> dict[str, Any]:
        from pipelines.components.spec import EVALUATE, FINETUNE, PREPARE, REGISTER, ComponentSpec
        from pipelines.parameters import TINY
        from shared.extras import require_extra

        require_extra("train-deps", "the local training runner")

        snapshot, production_adapter, code = await asyncio.to_thread(self._stage, request, run_dir)
        params = self.params.model_copy(update={"base_model": self.local_base_model})
        if self.local_base_model == TINY:
            base = run_dir / "base_model"
            argv = ["-m", "pipelines.training.tiny_model", "--snapshot", str(snapshot), "--out", str(base)]
            if self.regression_set:
                argv += ["--extra-texts", str(self.regression_set)]
            await self._step("tiny_model", argv, code, run_dir)
            params = params.for_tiny_model(str(base.resolve()))

        dataset, adapter = run_dir / "prepare" / "dataset", run_dir / "finetune" / "adapter"
        report, decision = run_dir / "evaluate" / "report", run_dir / "register" / "decision"
        steps: list[tuple[ComponentSpec, dict[str, Any], dict[str, Path]]] = [
            (PREPARE, {"snapshot": snapshot}, {"dataset": dataset}),
            (FINETUNE, {"dataset": dataset}, {"adapter": adapter}),
            (
                EVALUATE,
                {
                    "dataset": dataset,
                    "adapter": adapter,
                    "regression_set": self.regression_set,
                    "production_adapter": production_adapter,
                },
                {"report": report},
            ),
            (
                REGISTER,
                {
                    "adapter": adapter,
                    "report": report,
                    "dataset": dataset,
                    "registry": "local",
                    "local_registry_dir": self.registry_dir.resolve(),
                },
                {"decision": decision},
            ),
        ]
        for spec, data_inputs, outputs in steps:
            values = {**params.values_for(spec), **{k: _absolute(v) for k, v in data_inputs.items()}}
            await self._step(spec.name, spec.argv(values, {k: v.resolve() for k, v in outputs.items()}), code, run_dir)
        registration: dict[str, Any] = json.loads((decision / "registration.json").read_text(encoding="utf-8"))
        return registration

    @staticmethod
    def _stage(request: TrainingRequest, run_dir: Path) -> tuple[Path, Path | None, Path]:
        """Check the inputs and stage the component code: (snapshot, production adapter, code folder)."""
        from pipelines.code import stage_component_code

        snapshot = Path(request.snapshot_uri)
        if not snapshot.exists():
            raise StepFailedError(f"snapshot {snapshot} not found (the local runner reads local files)")
        production_adapter = None
        if request.production_model:
            production_adapter = Path(request.production_model)
            if not production_adapter.is_dir():
                raise StepFailedError(f"production model {request.production_model}: not a local adapter folder")
        run_dir.mkdir(parents=True, exist_ok=True)
        return snapshot.resolve(), production_adapter, stage_component_code(run_dir / "code")

    async def _step(self, name: str, argv: list[str], code: Path, run_dir: Path) -> None:
        log_path = run_dir / f"{name}.log"
        env = {
            **os.environ,
            "PYTHONPATH": str(code),
            "TOKENIZERS_PARALLELISM": "false",
            # One math thread unless told otherwise: on a shared or small CPU, OpenMP threads that
            # spin-wait for each other make the tiny model's steps up to ten times slower.
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        }
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                self.python, *argv, cwd=code, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT
            )
            try:
                returncode = await asyncio.wait_for(process.wait(), self.step_timeout_s)
            except TimeoutError:
                process.kill()
                await process.wait()
                raise StepFailedError(f"{name} ran past {self.step_timeout_s:.0f}s; log: {log_path}") from None
        if returncode != 0:
            tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
            raise StepFailedError(f"{name} exited with {returncode}: {' | '.join(tail)} (log: {log_path})")


class StepFailedError(RuntimeError):
    """A pipeline step failed; the message names the step and ends with its log's last lines."""


def _absolute(value: Any) -> Any:
    return value.resolve() if isinstance(value, Path) else value
