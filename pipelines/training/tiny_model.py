"""A tiny causal language model created in code, so the whole pipeline runs on a CPU in seconds
and nothing is downloaded: a byte-level BPE tokenizer trained on the given texts, with a chat
template, and a randomly initialised two-layer Llama. ``create_tiny_model`` saves both with
``save_pretrained``, so the fine-tune and evaluate scripts load it by path exactly as they load a
hub model (``--base-model <dir>``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

PAD, END = "<|pad|>", "<|end|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tokenizer(texts: Iterable[str], vocab_size: int = 512):
    """A byte-level BPE tokenizer trained on ``texts`` (a PreTrainedTokenizerFast with a chat template)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, END, *ROLE_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD,
        eos_token=END,
        additional_special_tokens=list(ROLE_TOKENS),
        chat_template=CHAT_TEMPLATE,
        padding_side="right",
    )


def create_tiny_model(
    out_dir: Path,
    texts: Iterable[str],
    *,
    hidden_size: int = 64,
    layers: int = 2,
    vocab_size: int = 512,
    seed: int = 0,
    initializer_range: float = 0.1,
) -> Path:
    """Train the tokenizer, initialise the model and save both under ``out_dir``.

    ``initializer_range`` is 0.1 rather than the usual 0.02: LoRA leaves the (tied) embeddings and
    the final norm frozen, and with 0.02-sized embeddings in 64 dimensions the logits cannot leave
    the neighbourhood of a uniform distribution, so the loss could not go far down.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer(texts, vocab_size=vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        initializer_range=initializer_range,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.training.tiny_model --snapshot x.jsonl --out dir``: a tiny model whose
    tokenizer is trained on the snapshot's own texts (the local runner's first step)."""
    import argparse

    from shared.retraining.contract.examples import read_examples

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--snapshot", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--extra-texts", type=Path, help="more JSONL examples for the tokenizer (regression set)"
    )
    args = parser.parse_args(argv)
    examples = read_examples(args.snapshot) + (read_examples(args.extra_texts) if args.extra_texts else [])
    create_tiny_model(args.out, [m.content for e in examples for m in e.messages])
    print(f"tiny model: {args.out}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
