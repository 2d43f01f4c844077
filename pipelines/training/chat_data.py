"""Chat examples to model inputs: the tokenizer's own chat template, loss on the answer only.

The prompt (every message before the answer, plus the generation prompt) is masked out of the
labels with -100, so the model learns to answer, not to repeat questions. This works for any chat
template whose rendering of the prompt is a prefix of the rendering of the whole conversation,
which holds for the common instruct templates (Llama 3, Phi-3, Qwen 2.5, Mistral) and the tiny one.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

IGNORE_INDEX = -100


@dataclass(frozen=True, slots=True)
class EncodedExample:
    input_ids: list[int]
    labels: list[int]

    @property
    def answer_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


def render_prompt(tokenizer, messages: Sequence[dict[str, str]]) -> str:
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)


def encode_chat(tokenizer, messages: Sequence[dict[str, str]], max_length: int) -> EncodedExample | None:
    """Token ids and labels for one conversation ending with the assistant's answer.

    Returns ``None`` when truncation to ``max_length`` would leave no answer token to learn from.
    """
    prompt_text = render_prompt(tokenizer, messages[:-1])
    full_text = tokenizer.apply_chat_template(list(messages), tokenize=False)
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(full_text, add_special_tokens=False)["input_ids"]
    shared = 0
    for a, b in zip(prompt_ids, full_ids, strict=False):
        if a != b:
            break
        shared += 1
    if tokenizer.eos_token_id is not None and (not full_ids or full_ids[-1] != tokenizer.eos_token_id):
        # Templates that end the answer with a turn marker other than EOS still need the model to stop.
        full_ids = [*full_ids, tokenizer.eos_token_id]
    full_ids = full_ids[:max_length]
    labels = [IGNORE_INDEX] * min(shared, len(full_ids)) + full_ids[shared:]
    if all(label == IGNORE_INDEX for label in labels):
        return None
    return EncodedExample(input_ids=full_ids, labels=labels)


def encode_all(
    tokenizer, conversations: Sequence[Sequence[dict[str, str]]], max_length: int
) -> tuple[list[EncodedExample], int]:
    """Encode every conversation; also return how many were dropped by truncation."""
    encoded = [encode_chat(tokenizer, conversation, max_length) for conversation in conversations]
    kept = [example for example in encoded if example is not None]
    return kept, len(encoded) - len(kept)


def collate(examples: Sequence[EncodedExample], pad_token_id: int):
    """Right-padded tensors: input_ids, attention_mask, labels."""
    import torch

    width = max(len(e.input_ids) for e in examples)
    input_ids = torch.full((len(examples), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example.input_ids)
        input_ids[row, :n] = torch.tensor(example.input_ids)
        labels[row, :n] = torch.tensor(example.labels)
        attention_mask[row, :n] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def batches(
    examples: Sequence[EncodedExample], batch_size: int, *, seed: int, shuffle: bool = True
) -> Iterator[list[EncodedExample]]:
    """One epoch of batches; shuffled deterministically per ``seed``."""
    order = list(range(len(examples)))
    if shuffle:
        random.Random(seed).shuffle(order)
    for start in range(0, len(order), batch_size):
        yield [examples[i] for i in order[start : start + batch_size]]
