"""The Azure ML pipeline built offline: component specs, the DSL job, YAML round trip, validation,
the build command, and the serving entities."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llmops.cli import main
from pipelines.components.spec import COMPONENTS, EVALUATE, FINETUNE, REGISTER
from pipelines.definition import build_pipeline_job, validation_errors, write_pipeline
from pipelines.parameters import REGRESSION_SET, PipelineParameters
from shared.config import Settings, reset_settings_cache


@pytest.fixture
def params() -> PipelineParameters:
    return PipelineParameters.from_settings(Settings(gate_max_p95_latency_ms=800, training_method="qlora"))


def test_spec_command_and_local_argv_agree() -> None:
    command = EVALUATE.command()
    assert command.startswith("python -m pipelines.components.evaluate --dataset ${{inputs.dataset}}")
    assert "$[[--production-adapter ${{inputs.production_adapter}}]]" in command
    assert command.endswith("--report ${{outputs.report}}")
    argv = EVALUATE.argv({"dataset": "d", "adapter": "a", "base_model": "m"}, {"report": Path("r")})
    assert argv[:2] == ["-m", "pipelines.components.evaluate"]
    assert "--production-adapter" not in argv  # optional and unset: left out, as $[[...]] does
    parsed = EVALUATE.parse_args(argv[2:])
    assert parsed.base_model == "m" and parsed.max_new_tokens == 256 and parsed.report == Path("r")
    with pytest.raises(ValueError, match="required"):
        EVALUATE.argv({"dataset": "d"}, {"report": Path("r")})
    with pytest.raises(ValueError, match="unknown"):
        EVALUATE.argv({"nope": 1}, {"report": Path("r")})


def test_parameters_map_onto_component_inputs(params: PipelineParameters) -> None:
    values = params.values_for(FINETUNE)
    assert values["method"] == "qlora" and values["lora_r"] == 16 and "dataset" not in values
    register = params.values_for(REGISTER)
    assert register["max_p95_latency_ms"] == 800 and "max_cost_ratio" not in register
    assert "registry" not in register  # runner-specific: set by the definition or the local runner
    tiny = params.for_tiny_model("/models/tiny")
    assert tiny.method == "lora" and tiny.base_model == "/models/tiny" and tiny.gate == params.gate


def test_pipeline_builds_validates_and_round_trips(tmp_path, params) -> None:
    snapshot = tmp_path / "snapshot.jsonl"
    snapshot.write_text("{}\n")
    job = build_pipeline_job(
        params,
        workdir=tmp_path / "build",
        snapshot=str(snapshot),
        regression_set="azureml:llmops-regression-set@latest",
        production_model="azureml:llmops-candidate:2",
        gpu_compute="a100",
        cpu_compute="cpu",
        job_name="llmops-retrain-x-1",
    )
    assert validation_errors(job) == []
    assert list(job.jobs) == ["prepare", "finetune", "evaluate", "register"]
    assert {name: node.compute for name, node in job.jobs.items()} == {
        "prepare": "cpu",
        "finetune": "a100",
        "evaluate": "a100",
        "register": "cpu",
    }
    environments = {node.environment.name for node in job.jobs.values()}
    assert environments == {f"llmops-{spec.environment}" for spec in COMPONENTS}
    assert job.jobs["register"].identity is not None  # registers as the compute's managed identity
    assert job.jobs["finetune"].inputs["method"]._data == "qlora"

    path = write_pipeline(job, tmp_path / "build", local_inputs=[("snapshot", str(snapshot))])
    document = yaml.safe_load(path.read_text())
    assert document["name"] == "llmops-retrain-x-1"
    assert document["inputs"]["snapshot"]["path"] == str(snapshot.resolve())
    assert document["inputs"]["production_adapter"] == {
        "path": "azureml:llmops-candidate:2",
        "type": "custom_model",
    }
    assert document["jobs"]["finetune"]["component"]["code"] == "./code"
    assert (tmp_path / "build" / "code" / "pipelines" / "components" / "finetune.py").is_file()
    code = tmp_path / "build" / "code"
    assert (code / "shared" / "retraining" / "contract" / "gate.py").is_file()
    # the components' snapshot holds the contract alone: none of the platform, none of the runners
    assert not (code / "shared" / "retraining" / "coordinator.py").exists()
    assert not (code / "pipelines" / "runners").exists()
    assert (tmp_path / "build" / "environments" / "finetune" / "Dockerfile").is_file()


def test_environment_version_follows_its_definition(tmp_path, params) -> None:
    from pipelines.definition import environment_for

    folder = tmp_path / "envs" / "prepare"
    folder.mkdir(parents=True)
    (folder / "conda.yml").write_text("dependencies: [python=3.11]\n")
    first = environment_for("prepare", tmp_path / "envs")
    assert environment_for("prepare", tmp_path / "envs").version == first.version
    (folder / "conda.yml").write_text("dependencies: [python=3.12]\n")
    assert environment_for("prepare", tmp_path / "envs").version != first.version


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMOPS_DATA_DIR", str(tmp_path / "data"))
    reset_settings_cache()
    yield tmp_path / "data"
    reset_settings_cache()


def test_build_command_writes_a_valid_pipeline(cli_env, capsys) -> None:
    assert main(["pipeline", "build", "--snapshot", str(REGRESSION_SET), "--snapshot-id", "faq@1"]) == 0
    out = capsys.readouterr().out
    assert "validated offline" in out and "finetune" in out
    document = yaml.safe_load((cli_env / "pipeline" / "pipeline.yml").read_text())
    assert document["name"].startswith("llmops-retrain-faq-1-")


def test_build_command_rejects_a_missing_snapshot(cli_env, capsys) -> None:
    assert main(["pipeline", "build", "--snapshot", "nope.jsonl"]) == 2
    assert "not found" in capsys.readouterr().err


def test_serve_spec_writes_endpoint_and_deployment(cli_env, capsys) -> None:
    assert main(["pipeline", "serve-spec", "--model", "llmops-candidate:7"]) == 0
    endpoint = yaml.safe_load((cli_env / "serving" / "endpoint.yml").read_text())
    deployment = yaml.safe_load((cli_env / "serving" / "deployment.yml").read_text())
    assert endpoint["auth_mode"] == "aad_token"
    assert deployment["model"] == "azureml:llmops-candidate:7"
    assert deployment["instance_type"] == "Standard_NC24ads_A100_v4"
    assert "/v1" in capsys.readouterr().out
    assert main(["pipeline", "serve-spec", "--model", "no-version"]) == 2
