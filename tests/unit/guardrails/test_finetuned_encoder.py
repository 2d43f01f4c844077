"""Toxicity's full stage reads an encoder fine-tuned end to end (scripts/encoder_finetune.py): the
batches, the loss weights, training and export of a real (tiny) fine-tune, the model file naming its
graph, the detector reading that graph and stopping at start when it is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from shared.embeddings.memo import sentence_memo
from shared.guardrails.cascade import CascadeModel, encoder_memo
from shared.guardrails.classifier import MODEL_DIR, LinearHead
from shared.guardrails.toxicity import ToxicityDetector

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))

from encoder_finetune import _column_weights, length_batches  # noqa: E402


def test_batches_hold_every_row_once_and_rows_of_about_the_same_length():
    rng = np.random.default_rng(1)
    lengths = list(rng.integers(3, 96, size=1000))
    batches = length_batches(lengths, np.random.default_rng(0), batch=32)
    rows = np.concatenate(batches)
    assert sorted(rows.tolist()) == list(range(1000))
    spreads = [np.ptp(np.asarray(lengths)[b]) for b in batches if len(b) == 32]
    assert np.median(spreads) <= 6  # a batch of random rows would span ~90 tokens
    again = length_batches(lengths, np.random.default_rng(0), batch=32)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))


def test_head_zero_trains_on_the_main_rows_and_each_category_is_balanced():
    labels = np.array([[1, 1, 0], [0, 0, 0], [0, 0, 0], [1, 0, 1]], dtype=np.float32)
    weights = np.ones(4)
    main = np.array([True, True, True, False])
    out = _column_weights(labels, weights, main)
    assert out[:, 0].tolist() == [1.0, 1.0, 1.0, 0.0]
    for j in (1, 2):
        positives, negatives = out[labels[:, j] == 1, j].sum(), out[labels[:, j] == 0, j].sum()
        assert positives == pytest.approx(negatives)
    assert out[:, 1:].sum() == pytest.approx(out[:, 0].sum() * 4 / 3)  # the categories together ~ head 0


def _rows() -> list[dict]:
    toxic = ["you are a worthless {0} and everyone hates you", "shut up you pathetic {0}",
             "I will find you and hurt you, {0}", "go back where you came from, filthy {0}"]
    benign = ["where is my {0} order", "thanks, the {0} arrived today", "how do I reset my {0} password",
              "can you change the delivery address for the {0}"]
    words = ["parcel", "router", "laptop", "sofa", "printer", "phone"]
    rows = []
    for w in words:
        for i, t in enumerate(toxic):
            rows.append({"text": t.format(w), "label": 1, "source": f"s{i % 2}",
                         "categories": ["violence"] if "hurt" in t else ["harassment"]})
        for i, t in enumerate(benign):
            rows.append({"text": t.format(w), "label": 0, "source": f"s{i % 2}", "categories": []})
    return rows


def test_a_finetuned_encoder_is_trained_exported_and_read_by_the_full_stage(tmp_path, monkeypatch):
    from train_guardrail_models import FINETUNED, train

    assert "toxicity" in FINETUNED
    model = train("toxicity", tmp_path / "corpora", _rows(), encoder_dir=tmp_path / "graphs")
    graph = Path(str(model.encoder))
    assert graph == tmp_path / "graphs" / "toxicity-encoder-int8.onnx" and graph.is_file()
    assert model.encoder_path == graph and "fine-tuned" in model.meta["encoder"]
    loaded = CascadeModel.load(model.save(tmp_path / "toxicity.json"))
    assert loaded.encoder == model.encoder
    texts = ["you are a worthless clown and everyone hates you", "where is my kettle order"]
    tuned = encoder_memo(graph).encode(texts)
    assert np.allclose(np.linalg.norm(tuned, axis=1), 1.0, atol=1e-3)
    assert float(np.min(np.einsum("ij,ij->i", tuned, sentence_memo.encode(texts)))) < 0.999  # it moved

    def no_stock_encoder(texts):
        raise AssertionError("the full stage read the stock encoder")

    monkeypatch.setattr(sentence_memo, "encode", no_stock_encoder)
    everything = CascadeModel(LinearHead(np.zeros(256, dtype=np.float32), 5.0, {}), loaded.full, 0.5, {},
                              loaded.categories, None, 0.5, loaded.encoder)
    scores = everything.score(texts)  # the fast head sends every window on
    assert scores.escalated == 2 and scores.probabilities[0] > scores.probabilities[1]


def test_the_shipped_toxicity_model_names_its_graph_and_a_missing_graph_stops_the_start(tmp_path):
    shipped = CascadeModel.load(MODEL_DIR / "toxicity.json")
    assert shipped.encoder is not None and shipped.encoder_path.is_file()
    assert shipped.encoder_path.parent == MODEL_DIR  # shipped in the package, named relative to it
    absent = CascadeModel(shipped.fast, shipped.full, shipped.escalate_above, {}, {}, None, 0.7,
                          str(tmp_path / "absent.onnx"))
    with pytest.raises(FileNotFoundError, match="train_guardrail_models"):
        ToxicityDetector(absent).require_models()
