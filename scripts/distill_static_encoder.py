"""Distil the gateway's cheap first-stage encoder from all-MiniLM-L6-v2: one static vector per word piece.

    python scripts/distill_static_encoder.py [--dimensions 256]

Every word piece of the MiniLM vocabulary is run through the int8 ONNX encoder on its own
(``[CLS] piece [SEP]``, mean-pooled as the model pools a sentence); the vectors are centred, reduced
by PCA and weighted by an estimate of the piece's frequency (the uncased BERT vocabulary lists whole
words roughly by frequency from id 1996 on: Zipf's law over that rank, then ``a / (a + p)``, the
smooth-inverse-frequency weight), so that frequent pieces ("the", "please") count less than rare ones.
A text's vector is then the unit-normalised mean of its pieces' rows: a table lookup, no network
(``shared/embeddings/static_encoder.py``). The approach is model2vec's (Tulkens & van Dongen, 2024);
no model2vec code or weights are used. Output: ``shared/embeddings/models/minilm-static.npz``
(float16, ~15 MB at 256 dimensions). Deterministic: the same graph gives the same table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.embeddings.onnx_encoder import OnnxEncoder  # noqa: E402
from shared.embeddings.static_encoder import DEFAULT_STATIC_MODEL  # noqa: E402

FIRST_WORD_ID = 1996  # "the": from here the uncased vocabulary is ordered roughly by frequency
SIF_COEFFICIENT = 1e-4


def piece_vectors(encoder: OnnxEncoder, vocab_size: int, cls_id: int, sep_id: int, batch: int = 1024) -> np.ndarray:
    out = np.empty((vocab_size, encoder.dimensions), dtype=np.float32)
    for start in range(0, vocab_size, batch):
        ids = [[cls_id, i, sep_id] for i in range(start, min(start + batch, vocab_size))]
        out[start : start + len(ids)] = encoder.encode_ids(ids)
    return out


def frequency_weights(vocab_size: int) -> np.ndarray:
    ranks = np.arange(vocab_size, dtype=np.float64) - FIRST_WORD_ID + 1
    ranks[:FIRST_WORD_ID] = 1000.0  # single characters and sub-word pieces: moderately frequent
    ranks = np.maximum(ranks, 1.0)
    zipf = 1.0 / ranks
    p = zipf / zipf.sum()
    return (SIF_COEFFICIENT / (SIF_COEFFICIENT + p)).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dimensions", type=int, default=256)
    parser.add_argument("--output", type=Path, default=DEFAULT_STATIC_MODEL)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    encoder = OnnxEncoder()
    tokenizer = encoder._tokenizer
    vocab_size = tokenizer.get_vocab_size()
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    vectors = piece_vectors(encoder, vocab_size, cls_id, sep_id).astype(np.float64)
    mean = vectors.mean(axis=0)
    centred = vectors - mean
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ components[: args.dimensions].T
    table = reduced * frequency_weights(vocab_size)[:, None]
    for special in ("[PAD]", "[CLS]", "[SEP]", "[MASK]"):
        table[tokenizer.token_to_id(special)] = 0.0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.output, table=table.astype(np.float16))
    print(f"{vocab_size} pieces x {args.dimensions} -> {args.output} ({args.output.stat().st_size / 1e6:.1f} MB, "
          f"{time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
