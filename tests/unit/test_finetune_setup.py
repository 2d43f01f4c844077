"""Fine-tuning set-up without a GPU: the QLoRA load plan (4-bit NF4 config, kbit preparation), LoRA
adapters, answer-only labels, and the tiny model created in code."""

from __future__ import annotations

import pytest

from pipelines.training.chat_data import IGNORE_INDEX, collate, encode_chat
from pipelines.training.modeling import LoraSettings, TrainingSetupError, plan_base_model_load
from pipelines.training.tiny_model import build_tokenizer, create_tiny_model

torch = pytest.importorskip("torch")

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "When is the Oslo store open?"},
    {"role": "assistant", "content": "The Oslo store is open from nine to six."},
]


def test_qlora_plan_quantizes_the_base_model_in_4bit_nf4() -> None:
    plan = plan_base_model_load(
        "microsoft/Phi-3.5-mini-instruct", "qlora", cuda_available=True, bf16_supported=True
    )
    assert plan.prepare_for_kbit_training and plan.gradient_checkpointing
    config = plan.quantization_config()
    assert config.load_in_4bit and not config.load_in_8bit
    assert config.bnb_4bit_quant_type == "nf4"
    assert config.bnb_4bit_use_double_quant
    assert config.bnb_4bit_compute_dtype == torch.bfloat16
    kwargs = plan.from_pretrained_kwargs()
    assert kwargs["quantization_config"] is not None
    assert kwargs["device_map"] == {"": 0}
    assert kwargs["dtype"] == torch.bfloat16


def test_qlora_without_cuda_is_a_clear_error_and_lora_runs_on_cpu() -> None:
    with pytest.raises(TrainingSetupError, match="CUDA"):
        plan_base_model_load("m", "qlora", cuda_available=False)
    plan = plan_base_model_load("m", "lora", cuda_available=False)
    assert plan.device == "cpu" and plan.quantization is None and plan.torch_dtype == "float32"
    assert "quantization_config" not in plan.from_pretrained_kwargs()
    with pytest.raises(TrainingSetupError):
        plan_base_model_load("m", "full", cuda_available=True)  # type: ignore[arg-type]


def test_lora_settings_build_the_peft_config() -> None:
    config = LoraSettings(r=8, alpha=16, dropout=0.1, target_modules="q_proj, v_proj").peft_config()
    assert config.r == 8 and config.lora_alpha == 16 and config.lora_dropout == 0.1
    assert set(config.target_modules) == {"q_proj", "v_proj"}
    assert LoraSettings().peft_config().target_modules == "all-linear"


def test_prepare_model_for_kbit_training_applies_to_the_tiny_model(tmp_path) -> None:
    """The QLoRA preparation step on unquantized weights: everything frozen, half-precision
    weights upcast to float32 (what it does to a 4-bit model's norms), then LoRA adapters on top."""
    from peft import get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    folder = create_tiny_model(tmp_path / "tiny", [m["content"] for m in MESSAGES] * 5, vocab_size=300)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16)
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    assert all(not p.requires_grad and p.dtype == torch.float32 for p in model.parameters())
    model = get_peft_model(model, LoraSettings(r=4, alpha=8).peft_config())
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)


def test_labels_cover_only_the_answer() -> None:
    tokenizer = build_tokenizer([m["content"] for m in MESSAGES] * 5, vocab_size=300)
    encoded = encode_chat(tokenizer, MESSAGES, max_length=256)
    assert encoded is not None
    answer = [t for t, label in zip(encoded.input_ids, encoded.labels, strict=True) if label != IGNORE_INDEX]
    assert tokenizer.decode(answer, skip_special_tokens=True) == MESSAGES[-1]["content"]
    assert answer[-1] == tokenizer.eos_token_id  # the model learns to stop
    assert encode_chat(tokenizer, MESSAGES, max_length=5) is None  # truncation left no answer
    batch = collate([encoded, encode_chat(tokenizer, MESSAGES[1:], max_length=256)], tokenizer.pad_token_id)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    assert int(batch["attention_mask"][1].sum()) < batch["input_ids"].shape[1]
