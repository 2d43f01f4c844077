"""Loading the base model for LoRA or QLoRA fine-tuning, and loading a fine-tuned adapter back.

``plan_base_model_load`` decides everything (dtype, 4-bit quantization, device placement,
gradient checkpointing) without touching weights, so the QLoRA configuration is testable on a
machine without a GPU; ``load_for_training`` carries the plan out.

QLoRA (Dettmers et al. 2023): the frozen base model in 4-bit NF4 with double quantization
(bitsandbytes), computation in bf16, LoRA adapters in full precision on top, and
``prepare_model_for_kbit_training`` to upcast norms and enable gradient checkpointing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Method = Literal["lora", "qlora"]


class TrainingSetupError(RuntimeError):
    """The requested training cannot run here (e.g. QLoRA without a CUDA GPU)."""


@dataclass(frozen=True)
class LoraSettings:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str = "all-linear"  # or a comma-separated list of module names

    def peft_config(self):
        from peft import LoraConfig, TaskType

        targets: str | list[str] = self.target_modules
        if targets != "all-linear":
            targets = [name.strip() for name in self.target_modules.split(",") if name.strip()]
        return LoraConfig(
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=targets,
            bias="none",
            task_type=TaskType.CAUSAL_LM,
        )


@dataclass(frozen=True)
class BaseModelLoadPlan:
    base_model: str
    method: Method
    device: str
    torch_dtype: str  # "float32" | "bfloat16" | "float16"
    quantization: dict[str, Any] | None = None  # BitsAndBytesConfig keyword arguments
    prepare_for_kbit_training: bool = False
    gradient_checkpointing: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def quantization_config(self):
        if self.quantization is None:
            return None
        import torch
        from transformers import BitsAndBytesConfig

        kwargs = dict(self.quantization)
        kwargs["bnb_4bit_compute_dtype"] = getattr(torch, kwargs["bnb_4bit_compute_dtype"])
        return BitsAndBytesConfig(**kwargs)

    def from_pretrained_kwargs(self) -> dict[str, Any]:
        import torch

        kwargs: dict[str, Any] = {"dtype": getattr(torch, self.torch_dtype), **self.extra}
        quantization = self.quantization_config()
        if quantization is not None:
            kwargs["quantization_config"] = quantization
            kwargs["device_map"] = {"": 0}  # the whole 4-bit model on the one GPU of this process
        return kwargs


def qlora_quantization() -> dict[str, Any]:
    return {
        "load_in_4bit": True,
        "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_use_double_quant": True,
        "bnb_4bit_compute_dtype": "bfloat16",
    }


def plan_base_model_load(
    base_model: str,
    method: Method,
    *,
    cuda_available: bool,
    bf16_supported: bool = False,
    gradient_checkpointing: bool = False,
) -> BaseModelLoadPlan:
    if method == "qlora":
        if not cuda_available:
            raise TrainingSetupError(
                "QLoRA loads the base model in 4-bit with bitsandbytes, which needs a CUDA GPU; "
                "use --method lora on a CPU"
            )
        return BaseModelLoadPlan(
            base_model=base_model,
            method=method,
            device="cuda",
            torch_dtype="bfloat16" if bf16_supported else "float16",
            quantization=qlora_quantization(),
            prepare_for_kbit_training=True,
            gradient_checkpointing=True,
        )
    if method != "lora":
        raise TrainingSetupError(f"unknown fine-tuning method {method!r} (lora or qlora)")
    dtype = "bfloat16" if cuda_available and bf16_supported else "float32"
    return BaseModelLoadPlan(
        base_model=base_model,
        method=method,
        device="cuda" if cuda_available else "cpu",
        torch_dtype=dtype,
        gradient_checkpointing=gradient_checkpointing,
    )


def load_tokenizer(base_model: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise TrainingSetupError(f"{base_model}: the tokenizer has no chat template; use an instruct model")
    return tokenizer


def load_for_training(plan: BaseModelLoadPlan, lora: LoraSettings):
    """The base model with fresh LoRA adapters attached; only the adapters are trainable."""
    from peft import get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(plan.base_model, **plan.from_pretrained_kwargs())
    if plan.prepare_for_kbit_training:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=plan.gradient_checkpointing)
    elif plan.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    if plan.quantization is None:
        model.to(plan.device)
    return get_peft_model(model, lora.peft_config())


def load_for_inference(base_model: str, adapters: dict[str, Path], *, device: str, dtype: str = "float32"):
    """The base model with named adapters loaded (``model.set_adapter(name)`` picks one;
    ``with model.disable_adapter():`` runs the base model itself). Without adapters: the base model."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=getattr(torch, dtype)).to(device)
    if adapters:
        from peft import PeftModel

        names = list(adapters)
        model = PeftModel.from_pretrained(model, str(adapters[names[0]]), adapter_name=names[0])
        for name in names[1:]:
            model.load_adapter(str(adapters[name]), adapter_name=name)
    model.eval()
    return model
