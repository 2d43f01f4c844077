"""A model-based check's cheap stage runs on the event loop; the scan moves to a worker thread only
when the transformer encoder has to run."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from shared.embeddings import memo
from shared.embeddings.memo import EncoderDeferred, SentenceMemo, memo_only
from shared.guardrails.checks import Check, CheckOptions, ScanContext
from shared.guardrails.detectors import ToxicityCheck, ToxicityOptions
from shared.guardrails.verdicts import Finding, Stage


class CountingEncoder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.ones((len(texts), 384), dtype=np.float32)


def test_memo_only_answers_from_the_memo_or_defers() -> None:
    encoder = CountingEncoder()
    vectors = SentenceMemo(encoder=lambda: encoder)
    vectors.encode(["seen before"])
    with memo_only():
        assert vectors.encode(["seen before"]).shape == (1, 384)
        with pytest.raises(EncoderDeferred):
            vectors.encode(["seen before", "never seen"])
    assert encoder.calls == [["seen before"]]  # the deferred encode ran nothing
    assert vectors.encode(["never seen"]).shape == (1, 384)  # outside the context it encodes


class EncodingCheck(Check):
    """A check whose scan needs one vector of its text, as the model-based checks do."""

    name = "encoding-test"
    heavy = True

    def __init__(self, vectors: SentenceMemo) -> None:
        super().__init__(CheckOptions())
        self.vectors = vectors
        self.threads: list[int] = []

    def scan(self, text: str, ctx: ScanContext) -> Finding:
        self.threads.append(threading.get_ident())
        return Finding(float(self.vectors.encode([text])[0, 0]))


def test_a_heavy_check_stays_on_the_loop_unless_the_encoder_must_run() -> None:
    encoder = CountingEncoder()
    check = EncodingCheck(SentenceMemo(encoder=lambda: encoder))
    check.vectors.encode(["known"])
    ctx = ScanContext(Stage.INPUT)

    async def scan(text: str) -> tuple[Finding, int]:
        return await check.ascan(text, ctx), threading.get_ident()

    finding, loop_thread = asyncio.run(scan("known"))
    assert finding.score == 1.0 and check.threads == [loop_thread]
    check.threads.clear()
    finding, loop_thread = asyncio.run(scan("new text"))
    # tried on the loop, deferred, then scanned in a worker thread where the encoder ran
    assert finding.score == 1.0 and check.threads[0] == loop_thread and check.threads[1] != loop_thread
    assert encoder.calls == [["known"], ["new text"]]


def test_a_benign_sentence_needs_no_thread_and_a_toxic_one_gets_the_transformer(monkeypatch) -> None:
    check = ToxicityCheck(ToxicityOptions())
    encoded: list[str] = []
    real = memo.sentence_memo.encode

    def spy(texts):
        encoded.extend(texts)
        return real(texts)

    monkeypatch.setattr(memo.sentence_memo, "encode", spy)
    ctx = ScanContext(Stage.OUTPUT)
    benign = asyncio.run(check.ascan("Your order ships on Tuesday and arrives within three days.", ctx))
    assert benign.detail["escalated"] == 0 and benign.score < 0.5
    toxic = asyncio.run(check.ascan("You are a worthless idiot and everyone hates you, you disgusting pig.", ctx))
    assert toxic.detail["escalated"] >= 1 and toxic.score >= 0.5 and encoded
