"""The pipeline's parameters (everything but the data inputs), read from the platform settings.

``values_for(spec)`` gives a component the values of its non-data inputs, by input name, so the
Azure ML definition and the local runner pass the same values to the same scripts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from pipelines.components.spec import ASSET_KINDS, ComponentSpec
from shared.retraining.contract.gate import GateThresholds

REGRESSION_SET = Path(__file__).resolve().parent / "data" / "regression_set.jsonl"
TINY = "tiny"


class PipelineParameters(BaseModel):
    model_config = ConfigDict(frozen=True)

    base_model: str
    method: Literal["lora", "qlora"] = "qlora"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: str = "all-linear"
    learning_rate: float = 2e-4
    epochs: float = 1.0
    max_steps: int = 0
    batch_size: int = 4
    gradient_accumulation: int = 4
    max_length: int = 1024
    seed: int = 0
    validation_fraction: float = 0.1
    min_train_examples: int = 1
    max_new_tokens: int = 256
    max_examples: int = 0
    candidate_price_input_per_1k: float = 0.0
    candidate_price_output_per_1k: float = 0.0
    production_price_input_per_1k: float = 0.0
    production_price_output_per_1k: float = 0.0
    production_endpoint: str | None = None
    production_model: str | None = None
    judge_endpoint: str | None = None
    judge_model: str | None = None
    api_version: str | None = None
    guardrails: str = "pipelines.training.output_checks:basic_output_checks"
    model_name: str = "llmops-candidate"
    gate: GateThresholds = GateThresholds()

    @classmethod
    def from_settings(cls, settings: Any, *, base_model: str | None = None) -> PipelineParameters:
        s = settings
        return cls(
            base_model=base_model or s.training_base_model,
            method=s.training_method,
            lora_r=s.training_lora_r,
            lora_alpha=s.training_lora_alpha,
            lora_dropout=s.training_lora_dropout,
            target_modules=s.training_target_modules,
            learning_rate=s.training_learning_rate,
            epochs=s.training_epochs,
            max_steps=s.training_max_steps,
            batch_size=s.training_batch_size,
            gradient_accumulation=s.training_gradient_accumulation,
            max_length=s.training_max_length,
            max_new_tokens=s.eval_max_new_tokens,
            max_examples=s.eval_max_examples,
            candidate_price_input_per_1k=s.eval_candidate_price_input_per_1k,
            candidate_price_output_per_1k=s.eval_candidate_price_output_per_1k,
            production_price_input_per_1k=s.eval_production_price_input_per_1k,
            production_price_output_per_1k=s.eval_production_price_output_per_1k,
            production_endpoint=s.eval_production_endpoint,
            production_model=s.eval_production_model,
            judge_endpoint=s.eval_judge_endpoint,
            judge_model=s.eval_judge_model,
            api_version=s.eval_api_version,
            guardrails=s.eval_guardrails,
            model_name=s.training_model_name,
            gate=GateThresholds.from_settings(s),
        )

    def for_tiny_model(self, base_model: str) -> PipelineParameters:
        """Settings that make the tiny CPU model learn in seconds: LoRA (QLoRA needs CUDA), a high
        learning rate, ~120 steps of 16 examples, short answers."""
        return self.model_copy(
            update={
                "base_model": base_model,
                "method": "lora",
                "lora_r": 16,
                "lora_alpha": 32,
                "lora_dropout": 0.0,
                "learning_rate": 1e-2,
                "epochs": 0.0,
                "max_steps": 120,
                "batch_size": 16,
                "gradient_accumulation": 1,
                "max_length": 128,
                "max_new_tokens": 32,
            }
        )

    def values_for(self, spec: ComponentSpec) -> dict[str, Any]:
        """This component's non-data inputs that are set (``None`` ones are left to the defaults)."""
        values: dict[str, Any] = {}
        for param in spec.inputs:
            if param.kind in ASSET_KINDS:
                continue
            if param.name in type(self).model_fields:
                value = getattr(self, param.name)
            elif param.name in GateThresholds.model_fields:
                value = getattr(self.gate, param.name)
            else:
                continue  # runner-specific (registry, local_registry_dir)
            if value is not None:
                values[param.name] = value
        return values
