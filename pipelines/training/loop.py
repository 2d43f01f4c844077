"""The fine-tuning loop: AdamW on the trainable (adapter) parameters, gradient accumulation,
cosine schedule with warm-up, bf16 autocast on GPUs that support it, and the numbers the
benchmark and the run record need (loss curve, tokens/s, peak GPU memory, validation loss
before and after)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from pipelines.training.chat_data import EncodedExample, batches, collate


@dataclass(frozen=True)
class LoopSettings:
    learning_rate: float = 2e-4
    epochs: float = 1.0
    max_steps: int = 0  # > 0 caps the number of optimizer steps
    batch_size: int = 4
    gradient_accumulation: int = 1
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    log_every: int = 1


@dataclass
class TrainingResult:
    steps: int = 0
    loss_curve: list[tuple[int, float]] = field(default_factory=list)
    trained_tokens: int = 0
    seconds: float = 0.0
    tokens_per_second: float = 0.0
    peak_gpu_memory_gb: float | None = None
    eval_loss_before: float | None = None
    eval_loss_after: float | None = None
    trainable_parameters: int = 0
    total_parameters: int = 0

    @property
    def first_loss(self) -> float:
        return self.loss_curve[0][1] if self.loss_curve else math.nan

    @property
    def final_loss(self) -> float:
        """Mean of the last tenth of the curve (at least one point): smoother than the last step."""
        if not self.loss_curve:
            return math.nan
        tail = self.loss_curve[-max(1, len(self.loss_curve) // 10) :]
        return sum(loss for _, loss in tail) / len(tail)

    def as_dict(self) -> dict:
        return {**asdict(self), "first_loss": self.first_loss, "final_loss": self.final_loss}


def _autocast(device: str):
    import contextlib

    import torch

    if device == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def evaluation_loss(
    model, examples: Sequence[EncodedExample], *, pad_token_id: int, device: str, batch_size: int = 8
) -> float | None:
    """Token-weighted mean loss on the answer tokens of ``examples``."""
    import torch

    if not examples:
        return None
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in batches(examples, batch_size, seed=0, shuffle=False):
            tensors = {k: v.to(device) for k, v in collate(batch, pad_token_id).items()}
            with _autocast(device):
                loss = model(**tensors).loss
            tokens = sum(e.answer_tokens for e in batch)
            total += loss.item() * tokens
            count += tokens
    model.train()
    return total / count if count else None


def train(
    model,
    train_examples: Sequence[EncodedExample],
    settings: LoopSettings,
    *,
    pad_token_id: int,
    device: str,
    validation_examples: Sequence[EncodedExample] = (),
    on_log: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainingResult:
    import torch
    from transformers import get_cosine_schedule_with_warmup

    if not train_examples:
        raise ValueError("no training examples")
    torch.manual_seed(settings.seed)
    result = TrainingResult(
        trainable_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        total_parameters=sum(p.numel() for p in model.parameters()),
    )
    steps_per_epoch = math.ceil(len(train_examples) / (settings.batch_size * settings.gradient_accumulation))
    total_steps = max(1, math.ceil(steps_per_epoch * settings.epochs))
    if settings.max_steps > 0:
        total_steps = min(total_steps, settings.max_steps) if settings.epochs > 0 else settings.max_steps
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(
        optimizer, int(total_steps * settings.warmup_ratio), total_steps
    )
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    result.eval_loss_before = evaluation_loss(
        model, validation_examples, pad_token_id=pad_token_id, device=device
    )

    model.train()
    started = time.perf_counter()
    epoch, micro, window_loss, window_tokens = 0, 0, 0.0, 0
    while result.steps < total_steps:
        for batch in batches(train_examples, settings.batch_size, seed=settings.seed + epoch):
            tensors = {k: v.to(device) for k, v in collate(batch, pad_token_id).items()}
            with _autocast(device):
                loss = model(**tensors).loss
            (loss / settings.gradient_accumulation).backward()
            answer_tokens = sum(e.answer_tokens for e in batch)
            window_loss += loss.item() * answer_tokens
            window_tokens += answer_tokens
            result.trained_tokens += int(tensors["attention_mask"].sum())
            micro += 1
            if micro % settings.gradient_accumulation:
                continue
            torch.nn.utils.clip_grad_norm_(parameters, settings.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            result.steps += 1
            if result.steps % settings.log_every == 0 or result.steps == total_steps:
                step_loss = window_loss / max(window_tokens, 1)
                result.loss_curve.append((result.steps, step_loss))
                if on_log:
                    on_log(
                        result.steps, {"train_loss": step_loss, "learning_rate": scheduler.get_last_lr()[0]}
                    )
                window_loss, window_tokens = 0.0, 0
            if result.steps >= total_steps:
                break
        epoch += 1
    if device == "cuda":
        torch.cuda.synchronize()
        result.peak_gpu_memory_gb = torch.cuda.max_memory_allocated() / 2**30
    result.seconds = time.perf_counter() - started
    result.tokens_per_second = result.trained_tokens / result.seconds if result.seconds else 0.0
    result.eval_loss_after = evaluation_loss(
        model, validation_examples, pad_token_id=pad_token_id, device=device
    )
    return result
