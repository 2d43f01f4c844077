import pytest

from shared.guardrails.policy import PolicySet
from shared.guardrails.service import GuardrailService

DOCS = ["The Acme X1 costs 299 dollars and has 8 GB of memory. It ships in two days."]


@pytest.fixture
def service(policy_dir):
    return GuardrailService(PolicySet.load(policy_dir))


async def drain(guard, deltas):
    emitted, verdict = [], None
    for delta in deltas:
        text, verdict = await guard.feed(delta)
        emitted.append(text)
        if verdict:
            return "".join(emitted), verdict
    text, verdict = await guard.finish()
    emitted.append(text)
    return "".join(emitted), verdict


def chop(text, size=7):
    return [text[i : i + size] for i in range(0, len(text), size)]


async def test_text_is_released_sentence_by_sentence(service):
    guard = service.stream_checker("acme", "support", DOCS)
    assert await guard.feed("The Acme X1 costs ") == ("", None)  # held until the sentence ends
    text, verdict = await guard.feed("299 dollars. It ships")
    assert text == "The Acme X1 costs 299 dollars. " and verdict is None
    assert await guard.finish() == ("It ships", None)  # the rest, checked when the stream ends
    assert guard.sent_text == "The Acme X1 costs 299 dollars. It ships"


async def test_pii_is_redacted_in_the_stream(service):
    guard = service.stream_checker("acme", "support", DOCS)
    emitted, verdict = await drain(guard, chop("Hello! Contact sales@acme.example for a quote. Thanks."))
    assert verdict is None
    assert emitted == "Hello! Contact <EMAIL_ADDRESS> for a quote. Thanks."
    record = guard.log_record()
    assert record["blocked"] is None and record["sent_chars"] == len(emitted)
    pii = next(r for r in record["verdicts"] if r["check"] == "pii")
    assert pii["action"] == "redact" and "sales@" not in str(record)


async def test_a_blocking_verdict_ends_the_stream(service):
    guard = service.stream_checker("acme", "support", DOCS)
    answer = "Great choice. The Acme X1 costs $199 right now. It also comes with a free bag."
    emitted, verdict = await drain(guard, chop(answer))
    assert verdict is not None and verdict.check == "product_claims"
    assert emitted == "Great choice. "  # what was sent before the block
    assert await guard.feed("more text") == ("", verdict)  # nothing after a block
    assert await guard.finish() == ("", verdict)
    record = guard.log_record()
    assert record["blocked"] == "product_claims" and record["sent_chars"] == len("Great choice. ")
    blocked = next(r for r in record["verdicts"] if r["check"] == "product_claims")
    assert blocked["spans"][0]["start"] == len("Great choice. ")  # offsets in the whole answer


async def test_it_references_across_sentences_in_the_stream(service):
    guard = service.stream_checker("acme", "support", DOCS)
    emitted, verdict = await drain(guard, chop("The Acme X9 Pro is our flagship. It weighs 2.5 kg."))
    assert verdict is not None and verdict.check == "product_claims" and emitted == "The Acme X9 Pro is our flagship. "


async def test_long_text_without_boundaries_is_flushed(service):
    guard = service.stream_checker("acme", "support", DOCS)
    guard._max_pending = 100
    text, verdict = await guard.feed("word " * 50)
    assert verdict is None and 0 < len(text) <= 100


async def test_a_policy_without_output_rules_passes_through(service, policy_dir):
    (policy_dir / "open.yaml").write_text("name: open\ninput: []\noutput: []\n")
    open_service = GuardrailService(PolicySet.load(policy_dir))
    guard = open_service.stream_checker("t", "a", [], app_section="open")
    assert await guard.feed("anything goes") == ("anything goes", None)
    assert await guard.finish() == ("", None)
