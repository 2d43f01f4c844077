"""finetune: LoRA or QLoRA fine-tuning of an open base model on the prepared dataset.

Output folder: the PEFT adapter (``adapter_config.json``, ``adapter_model.safetensors``), the
tokenizer, ``training_metrics.json`` (loss curve, tokens/s, peak GPU memory, validation loss before
and after) and ``training_log.jsonl``. ``--base-model`` takes a hub id or a local folder.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from pipelines.components.prepare import TRAIN_FILE, VALIDATION_FILE
from pipelines.components.spec import FINETUNE
from pipelines.training.modeling import TrainingSetupError

METRICS_FILE = "training_metrics.json"


def main(argv: Sequence[str] | None = None) -> int:
    args = FINETUNE.parse_args(argv)
    import torch

    from pipelines.training.chat_data import encode_all
    from pipelines.training.loop import LoopSettings, train
    from pipelines.training.modeling import (
        LoraSettings,
        load_for_training,
        load_tokenizer,
        plan_base_model_load,
    )
    from pipelines.training.tracking import MetricsLog
    from shared.retraining.contract.examples import read_examples

    cuda = torch.cuda.is_available()
    try:
        plan = plan_base_model_load(
            args.base_model,
            args.method,
            cuda_available=cuda,
            bf16_supported=cuda and torch.cuda.is_bf16_supported(),
        )
    except TrainingSetupError as exc:
        print(f"finetune: {exc}", file=sys.stderr)
        return 1
    gpu = torch.cuda.get_device_name(0) if cuda else None
    print(f"finetune: {args.method} on {plan.device} ({gpu or 'no CUDA device'})")
    from transformers import set_seed

    set_seed(args.seed)  # LoRA's initial A matrices come from the global generator
    tokenizer = load_tokenizer(args.base_model)
    train_set = [e.chat() for e in read_examples(args.dataset / TRAIN_FILE)]
    validation_set = [e.chat() for e in read_examples(args.dataset / VALIDATION_FILE)]
    train_encoded, dropped = encode_all(tokenizer, train_set, args.max_length)
    validation_encoded, _ = encode_all(tokenizer, validation_set, args.max_length)
    lora = LoraSettings(
        r=args.lora_r, alpha=args.lora_alpha, dropout=args.lora_dropout, target_modules=args.target_modules
    )
    model = load_for_training(plan, lora)
    log = MetricsLog(args.adapter / "training_log.jsonl")
    log.params(
        {
            "base_model": args.base_model,
            "method": args.method,
            "lora_r": args.lora_r,
            "learning_rate": args.learning_rate,
            "train_examples": len(train_encoded),
        }
    )
    result = train(
        model,
        train_encoded,
        LoopSettings(
            learning_rate=args.learning_rate,
            epochs=args.epochs,
            max_steps=args.max_steps,
            batch_size=args.batch_size,
            gradient_accumulation=args.gradient_accumulation,
            seed=args.seed,
        ),
        pad_token_id=tokenizer.pad_token_id,
        device=plan.device,
        validation_examples=validation_encoded,
        on_log=log.log,
    )
    model.save_pretrained(args.adapter)
    tokenizer.save_pretrained(args.adapter)
    metrics = {
        **result.as_dict(),
        "base_model": args.base_model,
        "method": args.method,
        "device": plan.device,
        "gpu": gpu,
        "train_examples": len(train_encoded),
        "validation_examples": len(validation_encoded),
        "truncated_away": dropped,
    }
    (args.adapter / METRICS_FILE).write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    log.log(result.steps, {k: v for k, v in metrics.items() if isinstance(v, float) and k != "seconds"})
    print(json.dumps({k: v for k, v in metrics.items() if k != "loss_curve"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
