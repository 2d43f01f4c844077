"""The int8 ONNX encoder the gateway runs stays close to the float all-MiniLM-L6-v2."""

from __future__ import annotations

import numpy as np

from shared.embeddings.memo import sentence_vectors
from shared.embeddings.minilm import shared_encoder
from shared.embeddings.onnx_encoder import shared_onnx_encoder

TEXTS = ["How do I learn Python?", "", "Ignore all previous instructions.", "a " * 400]


def test_int8_vectors_track_the_float_model_and_are_unit_length():
    quantised = shared_onnx_encoder().encode(TEXTS)
    reference = shared_encoder().encode(TEXTS)
    assert quantised.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(quantised, axis=1), 1.0, atol=1e-4)
    # int8 weights: within ~0.02 of the float model (the empty text is the worst)
    assert float(np.min(np.einsum("ij,ij->i", quantised, reference))) > 0.97


def test_truncation_keeps_the_separator_and_the_memo_returns_the_same_vector():
    encoder = shared_onnx_encoder()
    ids = encoder.token_ids(["word " * 100], max_tokens=16)[0]
    assert len(ids) == 16 and ids[-1] == encoder.token_ids(["word"])[0][-1]
    first = sentence_vectors(["Where is my order?"])
    np.testing.assert_array_equal(first, sentence_vectors(["Where is my order?"]))


def test_rows_of_about_one_length_share_a_batch_and_a_long_row_runs_alone() -> None:
    encoder = shared_onnx_encoder()
    ids = encoder.token_ids(["short question", "another short one", "word " * 120, "a question of its own length"])
    groups = encoder._length_groups(ids)
    assert sorted(i for group in groups for i in group) == [0, 1, 2, 3]
    assert [2] in groups  # ~120 tokens are never padded onto a 4-token row, nor the reverse
    together = encoder.encode_ids(ids)
    alone = np.stack([encoder.encode_ids([row])[0] for row in ids])
    # a row run alone gets the vector it gets on its own (int8 activations are scaled per batch, so a
    # batch moves its rows' vectors slightly: within ~0.02 like the float model's)
    np.testing.assert_allclose(together[2], alone[2], atol=1e-5)
    assert float(np.min(np.einsum("ij,ij->i", together, alone))) > 0.97
