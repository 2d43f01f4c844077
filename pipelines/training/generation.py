"""Answer generation for evaluation, timed per request: a local model (base model, optionally with a
named LoRA adapter) or any OpenAI-compatible chat endpoint (Azure OpenAI, an Azure ML online
endpoint serving vLLM, the local simulator)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pipelines.training.chat_data import render_prompt

AZURE_OPENAI_SCOPE = "https://cognitiveservices.azure.com/.default"


@dataclass(frozen=True, slots=True)
class Generation:
    text: str
    latency_ms: float
    input_tokens: int
    output_tokens: int


class Generator(Protocol):
    name: str

    def generate(self, messages: Sequence[dict[str, str]]) -> Generation: ...


class LocalModelGenerator:
    """Greedy decoding with a local model, one request at a time (what a latency number means).

    ``adapter=None`` on a PEFT model runs the base model with every adapter disabled.
    """

    def __init__(self, model, tokenizer, *, name: str, adapter: str | None, device: str, max_new_tokens: int):
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.adapter, self.device, self.max_new_tokens = adapter, device, max_new_tokens

    def _adapter_context(self):
        if not hasattr(self.model, "peft_config"):
            return contextlib.nullcontext()
        if self.adapter is None:
            return self.model.disable_adapter()
        self.model.set_adapter(self.adapter)
        return contextlib.nullcontext()

    def generate(self, messages: Sequence[dict[str, str]]) -> Generation:
        import torch

        prompt = render_prompt(self.tokenizer, messages)
        inputs = self.tokenizer(prompt, add_special_tokens=False, return_tensors="pt").to(self.device)
        prompt_length = inputs["input_ids"].shape[1]
        with self._adapter_context(), torch.no_grad():
            started = time.perf_counter()
            output = self.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                eos_token_id=self.tokenizer.eos_token_id,
                pad_token_id=self.tokenizer.pad_token_id,
            )
            if self.device == "cuda":
                torch.cuda.synchronize()
            latency_ms = (time.perf_counter() - started) * 1000
        completion = output[0, prompt_length:]
        text = self.tokenizer.decode(completion, skip_special_tokens=True)
        return Generation(text.strip(), latency_ms, prompt_length, int(completion.shape[0]))


def openai_client(endpoint: str, *, api_version: str | None = None, api_key_env: str = "LLMOPS_EVAL_API_KEY"):
    """A sync OpenAI client for an evaluation endpoint.

    Azure OpenAI (``*.openai.azure.com``) authenticates with Entra ID (the compute's managed identity
    in Azure ML, the developer's login locally) unless an API key is in ``api_key_env``; any other
    OpenAI-compatible endpoint gets that key or a placeholder (the local simulator ignores it).
    """
    import openai

    api_key = os.environ.get(api_key_env)
    if ".openai.azure.com" in endpoint:
        if api_key:
            return openai.AzureOpenAI(azure_endpoint=endpoint, api_key=api_key, api_version=api_version)
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider

        token_provider = get_bearer_token_provider(DefaultAzureCredential(), AZURE_OPENAI_SCOPE)
        return openai.AzureOpenAI(
            azure_endpoint=endpoint, azure_ad_token_provider=token_provider, api_version=api_version
        )
    return openai.OpenAI(base_url=endpoint, api_key=api_key or "not-needed")


class OpenAIChatGenerator:
    """The production model behind an OpenAI-compatible endpoint, measured end to end."""

    def __init__(self, client, *, model: str, max_tokens: int):
        self.client, self.name, self.max_tokens = client, model, max_tokens

    def generate(self, messages: Sequence[dict[str, str]]) -> Generation:
        started = time.perf_counter()
        response = self.client.chat.completions.create(
            model=self.name, messages=list(messages), max_tokens=self.max_tokens, temperature=0
        )
        latency_ms = (time.perf_counter() - started) * 1000
        usage = response.usage
        return Generation(
            (response.choices[0].message.content or "").strip(),
            latency_ms,
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
        )
