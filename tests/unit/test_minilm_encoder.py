"""The numpy all-MiniLM-L6-v2 encoder reproduces sentence-transformers' vectors."""

from __future__ import annotations

import numpy as np
import pytest

from shared.embeddings.minilm import MiniLMEncoder, shared_encoder

# First six dimensions of sentence-transformers' normalised embeddings (computed once with
# SentenceTransformer(all-MiniLM-L6-v2).encode(..., normalize_embeddings=True) on the CPU).
REFERENCE = {
    "How do I learn Python?": [0.0072, 0.00571, -0.0079, 0.06084, -0.06073, -0.10836],
    "The quick brown fox jumps over the lazy dog.": [0.04393, 0.05893, 0.04818, 0.07755, 0.02674, -0.03763],
}


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return shared_encoder()


def test_matches_sentence_transformers(encoder: MiniLMEncoder) -> None:
    vectors = encoder.encode(list(REFERENCE))
    for vector, expected in zip(vectors, REFERENCE.values(), strict=True):
        np.testing.assert_allclose(vector[:6], expected, atol=1e-4)


def test_unit_vectors_in_input_order_and_batch_independent(encoder: MiniLMEncoder) -> None:
    texts = ["short", "a much longer sentence about refunds for headphones bought last spring", "", "mid length text"]
    together = encoder.encode(texts)
    one_by_one = np.vstack([encoder.encode([t]) for t in texts])
    assert together.shape == (4, encoder.dimensions)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_paraphrases_are_closer_than_unrelated(encoder: MiniLMEncoder) -> None:
    a, b, c = encoder.encode(
        ["How can I reset my password?", "What is the way to reset my password?", "Best pizza toppings in Naples"]
    )
    assert float(a @ b) > 0.8 > float(a @ c)


def test_empty_input(encoder: MiniLMEncoder) -> None:
    assert encoder.encode([]).shape == (0, encoder.dimensions)
