"""The retraining pipeline in the azure-ai-ml DSL: prepare -> finetune -> evaluate -> register,
each a command component with its own environment, built from the specs in ``components/spec.py``.

``build_pipeline_job`` works offline (no workspace needed): it stages the component code and the
environment build contexts into a work folder and returns a ``PipelineJob`` ready for
``MLClient.jobs.create_or_update``. ``write_pipeline`` dumps it as YAML next to those folders
(a self-contained folder: ``az ml job create -f pipeline.yml`` works from it), loads it back and
validates it.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from pipelines.code import stage_component_code
from pipelines.components.spec import (
    ASSET_KINDS,
    COMPONENTS,
    EVALUATE,
    FINETUNE,
    PREPARE,
    REGISTER,
    ComponentSpec,
)
from pipelines.parameters import PipelineParameters

ENVIRONMENTS_DIR = Path(__file__).resolve().parent / "environments"
CPU_BASE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
PIPELINE_NAME = "llmops_retraining"
PIPELINE_FILE = "pipeline.yml"
# The pipeline outputs the runner reads back (the register step's decision holds registration.json).
OUTPUT_DECISION = "decision"


def quiet_azure_ml() -> None:
    """Import azure-ai-ml and silence its notices: on import it sets its logger to INFO with a stdout
    handler, then logs experimental-class notices and anonymous-asset warnings while building."""
    import azure.ai.ml  # noqa: F401

    logging.getLogger("azure.ai.ml").setLevel(logging.ERROR)


class PipelineValidationError(ValueError):
    """The pipeline does not pass azure-ai-ml's offline validation."""


def _folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def environment_for(name: str, environments_dir: Path):
    """A named environment whose version is the digest of its definition, so an unchanged
    definition reuses the image Azure ML built before and a changed one gets a new version."""
    from azure.ai.ml.entities import BuildContext, Environment

    folder = environments_dir / name
    version = _folder_digest(folder)
    if (folder / "Dockerfile").exists():
        return Environment(name=f"llmops-{name}", version=version, build=BuildContext(path=str(folder)))
    return Environment(
        name=f"llmops-{name}", version=version, image=CPU_BASE_IMAGE, conda_file=str(folder / "conda.yml")
    )


def _component_input(param) -> Any:
    from azure.ai.ml import Input

    if param.kind in ASSET_KINDS:
        return Input(type=param.kind, optional=param.optional or None, description=param.description)
    return Input(
        type=param.kind,
        default=param.default,
        optional=param.optional or None,
        description=param.description,
    )


def command_component(spec: ComponentSpec, *, code_dir: Path, environments_dir: Path, compute: str):
    """The spec as an azure-ai-ml command component."""
    from azure.ai.ml import Output, command
    from azure.ai.ml.entities import ManagedIdentityConfiguration

    return command(
        name=spec.name,
        display_name=spec.display_name,
        description=spec.description,
        command=spec.command(),
        code=str(code_dir),
        environment=environment_for(spec.environment, environments_dir),
        inputs={param.name: _component_input(param) for param in spec.inputs},
        outputs={name: Output(type="uri_folder") for name in spec.outputs},
        compute=compute,
        identity=ManagedIdentityConfiguration() if spec.needs_workspace_identity else None,
        environment_variables={"TOKENIZERS_PARALLELISM": "false"},
    )


def build_pipeline_job(
    params: PipelineParameters,
    *,
    workdir: Path,
    snapshot: str,
    regression_set: str | None = None,
    production_model: str | None = None,
    gpu_compute: str = "gpu-cluster",
    cpu_compute: str = "serverless",
    experiment_name: str = "llmops-retraining",
    job_name: str | None = None,
    tags: dict[str, str] | None = None,
):
    """The pipeline job for one dataset snapshot. ``snapshot`` / ``regression_set``: a local file
    (uploaded on submission) or an ``azureml:``/``azureml://``/``https://`` URI; ``production_model``:
    ``azureml:<name>:<version>`` of the model to beat (omitted: the base model)."""
    from azure.ai.ml import Input, dsl

    quiet_azure_ml()
    code_dir = stage_component_code(workdir / "code")
    environments_dir = workdir / "environments"
    if environments_dir.exists():
        shutil.rmtree(environments_dir)
    shutil.copytree(ENVIRONMENTS_DIR, environments_dir)
    components = {
        spec.name: command_component(
            spec,
            code_dir=code_dir,
            environments_dir=environments_dir,
            compute=gpu_compute if spec.compute == "gpu" else cpu_compute,
        )
        for spec in COMPONENTS
    }

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description="Fine-tune a LoRA/QLoRA candidate on a curated snapshot, evaluate it against production "
        "and register it only if it passes the gate.",
    )
    def retraining(snapshot, regression_set=None, production_adapter=None):
        prepare = components["prepare"](snapshot=snapshot, **params.values_for(PREPARE))
        finetune = components["finetune"](dataset=prepare.outputs.dataset, **params.values_for(FINETUNE))
        evaluate = components["evaluate"](
            dataset=prepare.outputs.dataset,
            adapter=finetune.outputs.adapter,
            regression_set=regression_set,
            production_adapter=production_adapter,
            **params.values_for(EVALUATE),
        )
        register = components["register"](
            adapter=finetune.outputs.adapter,
            report=evaluate.outputs.report,
            dataset=prepare.outputs.dataset,
            registry="azureml",
            **params.values_for(REGISTER),
        )
        return {
            "adapter": finetune.outputs.adapter,
            "report": evaluate.outputs.report,
            OUTPUT_DECISION: register.outputs.decision,
        }

    inputs: dict[str, Any] = {"snapshot": Input(type="uri_file", path=snapshot)}
    if regression_set:
        inputs["regression_set"] = Input(type="uri_file", path=regression_set)
    if production_model:
        inputs["production_adapter"] = Input(type="custom_model", path=production_model)
    job = retraining(**inputs)
    job.name = job_name
    job.experiment_name = experiment_name
    job.display_name = f"retrain {job_name}" if job_name else "retrain"
    job.tags = {"base_model": params.base_model, "method": params.method, **(tags or {})}
    job.settings.default_compute = cpu_compute
    job.settings.continue_on_step_failure = False
    return job


def validation_errors(job) -> list[str]:
    """azure-ai-ml's offline validation of a job (what ``MLClient.jobs.validate`` checks locally)."""
    result = job._validate()  # no public offline entry point; jobs.validate needs a workspace client
    return [f"{path}: {message}" for path, message in result.error_messages.items()]


def _is_local_path(value: str) -> bool:
    return not value.startswith(("azureml:", "http://", "https://", "wasbs://", "abfss://"))


def _relative_paths(node: Any, root: Path) -> Any:
    """Make the work folder's absolute paths in the dumped YAML relative to it (a portable folder)."""
    if isinstance(node, dict):
        return {key: _relative_paths(value, root) for key, value in node.items()}
    if isinstance(node, list):
        return [_relative_paths(value, root) for value in node]
    if isinstance(node, str) and node.startswith(str(root) + "/"):
        return "./" + Path(node).relative_to(root).as_posix()
    return node


def write_pipeline(job, workdir: Path, *, local_inputs: Iterable[tuple[str, str]] = ()) -> Path:
    """Dump the job to ``workdir/pipeline.yml``, load it back and validate both; return the path.

    ``local_inputs`` (name, path) restores local file inputs that the dump writes as ``azureml:<path>``
    (azure-ai-ml serialises a local path input as an asset reference).
    """
    from azure.ai.ml import load_job

    quiet_azure_ml()
    errors = validation_errors(job)
    if errors:
        raise PipelineValidationError("; ".join(errors))
    path = workdir / PIPELINE_FILE
    job.dump(path)
    root = workdir.resolve()
    document = _relative_paths(yaml.safe_load(path.read_text(encoding="utf-8")), root)
    for name, value in local_inputs:
        if _is_local_path(value):
            document["inputs"][name]["path"] = str(Path(value).resolve())
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    reloaded = load_job(path)
    errors = validation_errors(reloaded)
    if errors:
        raise PipelineValidationError("after reload: " + "; ".join(errors))
    return path
