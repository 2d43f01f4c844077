"""Each component's interface, declared once: the Azure ML command component (``definition.py``) and
the local runner build their command lines from these specs, so both run the scripts identically.

Every input becomes ``--<name-with-dashes> <value>``; optional inputs are left out when unset
(``$[[...]]`` in Azure ML); every output is a folder passed as ``--<name> <path>``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

InputKind = Literal["uri_file", "uri_folder", "custom_model", "string", "integer", "number"]
Compute = Literal["cpu", "gpu"]
ASSET_KINDS = ("uri_file", "uri_folder", "custom_model")
_PARSERS: dict[str, type] = {
    "uri_file": Path,
    "uri_folder": Path,
    "custom_model": Path,
    "string": str,
    "integer": int,
    "number": float,
}


@dataclass(frozen=True)
class Param:
    name: str
    kind: InputKind
    description: str
    optional: bool = False
    default: Any = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    display_name: str
    description: str
    inputs: tuple[Param, ...]
    outputs: tuple[str, ...]
    environment: str  # folder name under pipelines/environments
    compute: Compute
    needs_workspace_identity: bool = False

    @property
    def module(self) -> str:
        return f"pipelines.components.{self.name}"

    def command(self) -> str:
        """The Azure ML command line, with ``${{inputs.*}}`` / ``${{outputs.*}}`` placeholders."""
        parts = [f"python -m {self.module}"]
        for param in self.inputs:
            value = f"{param.flag} ${{{{inputs.{param.name}}}}}"
            parts.append(f"$[[{value}]]" if param.optional else value)
        parts.extend(f"--{name.replace('_', '-')} ${{{{outputs.{name}}}}}" for name in self.outputs)
        return " ".join(parts)

    def parse_args(self, argv: Sequence[str] | None = None) -> argparse.Namespace:
        """What the component script receives (inputs by name, outputs as folder paths)."""
        parser = argparse.ArgumentParser(prog=self.module, description=self.description)
        for param in self.inputs:
            parser.add_argument(
                param.flag,
                dest=param.name,
                type=_PARSERS[param.kind],
                required=param.default is None and not param.optional,
                default=param.default,
                help=param.description,
            )
        for name in self.outputs:
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=Path, required=True)
        return parser.parse_args(argv)

    def argv(self, values: Mapping[str, Any], outputs: Mapping[str, Path]) -> list[str]:
        """The same command line for a local run: concrete values and output folders."""
        unknown = set(values) - {p.name for p in self.inputs}
        if unknown:
            raise ValueError(f"{self.name}: unknown inputs {sorted(unknown)}")
        argv = ["-m", self.module]
        for param in self.inputs:
            value = values.get(param.name, param.default)
            if value is None:
                if not param.optional:
                    raise ValueError(f"{self.name}: input {param.name!r} is required")
                continue
            argv += [param.flag, str(value)]
        for name in self.outputs:
            argv += [f"--{name.replace('_', '-')}", str(outputs[name])]
        return argv


def _p(name: str, kind: InputKind, description: str, default: Any = None, optional: bool = False) -> Param:
    return Param(name, kind, description, optional=optional, default=default)


PREPARE = ComponentSpec(
    name="prepare",
    display_name="Prepare dataset snapshot",
    description="Validate a JSONL snapshot of curated chat examples and export train/validation splits "
    "with a manifest.",
    inputs=(
        _p("snapshot", "uri_file", "JSONL snapshot of training examples (chat format)"),
        _p(
            "validation_fraction",
            "number",
            "hold-out share when the snapshot marks no validation examples",
            0.1,
        ),
        _p("min_train_examples", "integer", "fail when fewer training examples remain", 1),
    ),
    outputs=("dataset",),
    environment="prepare",
    compute="cpu",
)

FINETUNE = ComponentSpec(
    name="finetune",
    display_name="LoRA / QLoRA fine-tune",
    description="Fine-tune LoRA adapters on the base model (QLoRA: base model in 4-bit NF4).",
    inputs=(
        _p("dataset", "uri_folder", "output of prepare"),
        _p("base_model", "string", "hub id or path of the open base model"),
        _p("method", "string", "lora or qlora", "qlora"),
        _p("lora_r", "integer", "LoRA rank", 16),
        _p("lora_alpha", "integer", "LoRA alpha", 32),
        _p("lora_dropout", "number", "LoRA dropout", 0.05),
        _p("target_modules", "string", "all-linear or comma-separated module names", "all-linear"),
        _p("learning_rate", "number", "peak learning rate", 2e-4),
        _p("epochs", "number", "passes over the training split", 1.0),
        _p("max_steps", "integer", "cap on optimizer steps (0: no cap)", 0),
        _p("batch_size", "integer", "examples per micro-batch", 4),
        _p("gradient_accumulation", "integer", "micro-batches per optimizer step", 4),
        _p("max_length", "integer", "tokens per example (longer ones are truncated)", 1024),
        _p("seed", "integer", "random seed", 0),
    ),
    outputs=("adapter",),
    environment="finetune",
    compute="gpu",
)

EVALUATE = ComponentSpec(
    name="evaluate",
    display_name="Evaluate candidate vs production",
    description="Quality (reference metrics, optional LLM judge), guardrail pass rate, latency and cost "
    "per request of the candidate and the production model on the validation split and the regression set.",
    inputs=(
        _p("dataset", "uri_folder", "output of prepare"),
        _p("adapter", "uri_folder", "candidate adapter (output of finetune)"),
        _p("base_model", "string", "hub id or path of the base model"),
        _p("regression_set", "uri_file", "fixed regression set (JSONL, chat format)", optional=True),
        _p(
            "production_adapter",
            "uri_folder",
            "adapter of the production model (absent: the base model)",
            optional=True,
        ),
        _p(
            "production_endpoint",
            "string",
            "OpenAI-compatible endpoint serving production instead",
            optional=True,
        ),
        _p("production_model", "string", "model / deployment name at production_endpoint", optional=True),
        _p("max_new_tokens", "integer", "generation limit per answer", 256),
        _p("max_examples", "integer", "cap on examples per suite (0: all)", 0),
        _p("candidate_price_input_per_1k", "number", "USD per 1k input tokens, candidate", 0.0),
        _p("candidate_price_output_per_1k", "number", "USD per 1k output tokens, candidate", 0.0),
        _p("production_price_input_per_1k", "number", "USD per 1k input tokens, production", 0.0),
        _p("production_price_output_per_1k", "number", "USD per 1k output tokens, production", 0.0),
        _p("judge_endpoint", "string", "OpenAI-compatible endpoint of the judge model", optional=True),
        _p("judge_model", "string", "judge model / deployment name", optional=True),
        _p("api_version", "string", "Azure OpenAI API version for the endpoints above", optional=True),
        _p(
            "guardrails",
            "string",
            "output checker, module:attribute",
            "pipelines.training.output_checks:basic_output_checks",
        ),
    ),
    outputs=("report",),
    environment="evaluate",
    compute="gpu",
)

REGISTER = ComponentSpec(
    name="register",
    display_name="Gate and register",
    description="Apply the evaluation gate; register the adapter with its evaluation report only if it "
    "passes.",
    inputs=(
        _p("adapter", "uri_folder", "candidate adapter (output of finetune)"),
        _p("report", "uri_folder", "output of evaluate"),
        _p("dataset", "uri_folder", "output of prepare (its manifest tags the model)"),
        _p("model_name", "string", "registered model name", "llmops-candidate"),
        _p("registry", "string", "azureml (this workspace) or local", "azureml"),
        _p("local_registry_dir", "string", "folder of the local registry", optional=True),
        _p("quality_metric", "string", "metric the quality rule compares", "rouge_l"),
        _p("quality_tolerance", "number", "candidate quality >= production - tolerance", 0.0),
        _p("guardrail_tolerance", "number", "candidate pass rate >= production - tolerance", 0.0),
        _p("max_p95_latency_ms", "number", "limit on the candidate's p95 latency", optional=True),
        _p("max_latency_ratio", "number", "limit on candidate p95 / production p95", optional=True),
        _p("max_cost_per_request_usd", "number", "limit on the candidate's cost per request", optional=True),
        _p("max_cost_ratio", "number", "limit on candidate cost / production cost", optional=True),
        _p("min_requests", "integer", "evaluated requests needed per suite", 1),
    ),
    outputs=("decision",),
    environment="register",
    compute="cpu",
    needs_workspace_identity=True,
)

COMPONENTS: tuple[ComponentSpec, ...] = (PREPARE, FINETUNE, EVALUATE, REGISTER)
