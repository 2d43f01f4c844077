"""A deterministic synthetic support-desk dataset in the training-example format.

Used where no curated snapshot exists yet: ``llmops pipeline run-local --synthetic``, the
fine-tune benchmark and the tests. Each intent has several phrasings and a templated answer with
slots, so a small model can learn the mapping in a few steps and the evaluation has a real signal.
"""

from __future__ import annotations

import hashlib
import random

from shared.retraining.contract.examples import ChatMessage, TrainingExample

SYSTEM_PROMPT = "You are the Contoso support assistant. Answer briefly and precisely."

PRODUCTS = ("router", "laptop", "headset", "monitor", "keyboard", "tablet", "printer", "camera")
CITIES = ("Berlin", "Lisbon", "Oslo", "Madrid", "Vienna", "Dublin", "Prague", "Zurich")

# (intent, question phrasings, answer template)
INTENTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "reset_password",
        (
            "How do I reset my password?",
            "I forgot my password, what now?",
            "Can you help me reset my password?",
        ),
        "Open Settings, choose Security, then select Reset password and follow the email link.",
    ),
    (
        "warranty",
        (
            "What is the warranty on the {product}?",
            "How long is the {product} covered?",
            "Does the {product} have a warranty?",
        ),
        "The {product} has a two year warranty from the date of purchase.",
    ),
    (
        "store_hours",
        (
            "When is the {city} store open?",
            "What are the opening hours in {city}?",
            "Is the {city} store open today?",
        ),
        "The {city} store is open Monday to Saturday from nine to six.",
    ),
    (
        "return",
        ("How do I return my {product}?", "Can I send back the {product}?", "I want to return a {product}."),
        "You can return the {product} within thirty days using the prepaid label in your account.",
    ),
    (
        "shipping",
        (
            "How long does shipping to {city} take?",
            "When will my order reach {city}?",
            "What is the delivery time for {city}?",
        ),
        "Orders to {city} usually arrive within three business days.",
    ),
    (
        "order_status",
        ("Where is order {order}?", "What is the status of order {order}?", "Track order {order} please."),
        "Order {order} has shipped and the tracking link is in your confirmation email.",
    ),
)


def _example_id(dataset_id: str, index: int) -> str:
    return hashlib.sha256(f"{dataset_id}:{index}".encode()).hexdigest()[:16]


def synthetic_examples(
    count: int = 240,
    *,
    dataset_id: str = "synthetic-support",
    seed: int = 7,
    validation_fraction: float = 0.15,
) -> list[TrainingExample]:
    """``count`` examples; about ``validation_fraction`` of them are marked ``validation``."""
    rng = random.Random(seed)
    examples: list[TrainingExample] = []
    for index in range(count):
        _intent, questions, answer = INTENTS[index % len(INTENTS)]
        slots = {
            "product": rng.choice(PRODUCTS),
            "city": rng.choice(CITIES),
            "order": str(rng.randint(1000, 9999)),
        }
        question = rng.choice(questions).format(**slots)
        examples.append(
            TrainingExample(
                messages=(
                    ChatMessage(role="system", content=SYSTEM_PROMPT),
                    ChatMessage(role="user", content=question),
                    ChatMessage(role="assistant", content=answer.format(**slots)),
                ),
                split="validation" if rng.random() < validation_fraction else "train",
                example_id=_example_id(dataset_id, index),
                dataset_id=dataset_id,
                source_request_id=f"req-{_example_id(dataset_id, index)[:8]}",
            )
        )
    return examples
