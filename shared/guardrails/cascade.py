"""Two-stage scoring: a cheap head on static word-piece vectors first, the transformer only where it is unsure.

A detector's model file (``models/<name>.json``, written by ``scripts/train_guardrail_models.py``)
holds two logistic-regression heads per label:

- ``fast``: over the static MiniLM word-piece vectors (``shared/embeddings/static_encoder.py``; a
  table lookup, ~0.05 ms per window);
- ``full``: over those vectors and the int8 MiniLM sentence embedding side by side (~10-25 ms per
  window on one core).

A window whose ``fast`` probability is below ``escalate_above`` is scored by ``fast`` alone; the
others go to ``full``. With ``cleared_cap`` set (injection: 0.49) such a window scores at most that:
the cheap stage can clear a window, never flag it; without it (toxicity) a window the fast stage
puts at ``confirm_above`` or more (0.7: the default policy's lowest toxicity threshold) goes to
``full`` too, so that every flag the default policy raises is the transformer's, with its categories.
The cut is set at training time so that the transformer runs for 2% of the training benign windows
(``scripts/detector_training.py``), which is what keeps the default policy's CPU cost low on
ordinary traffic. Toxicity adds one ``full`` head per category (harassment, hate, sexual, violence,
self-harm), each with its own threshold picked on the training folds.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shared.embeddings.memo import sentence_memo
from shared.guardrails.classifier import MODEL_DIR, LinearHead, text_windows


@dataclass(frozen=True)
class CategoryHead:
    head: LinearHead  # over the full stage's features
    threshold: float  # of its probability, picked on the training folds


@dataclass(frozen=True)
class CascadeModel:
    fast: LinearHead
    full: LinearHead
    escalate_above: float
    meta: dict[str, Any]
    categories: dict[str, CategoryHead] = field(default_factory=dict)
    cleared_cap: float | None = None  # what a window the fast stage scored alone may score at most
    confirm_above: float = 0.5  # uncapped: a fast probability from which the full stage confirms

    @classmethod
    def load(cls, path: Path) -> CascadeModel:
        if not path.exists():
            raise FileNotFoundError(f"guardrail model {path} is missing: run scripts/train_guardrail_models.py")
        data = json.loads(path.read_text())
        if "fast" not in data:
            raise ValueError(f"guardrail model {path} predates the two-stage format: "
                             "run scripts/train_guardrail_models.py")
        categories = {
            name: CategoryHead(LinearHead.from_spec(spec), float(spec["threshold"]))
            for name, spec in data.get("categories", {}).items()
        }
        cap = data.get("cleared_cap")
        fast, full = LinearHead.from_spec(data["fast"]), LinearHead.from_spec(data["full"])
        return cls(fast, full, float(data["escalate_above"]), data.get("meta", {}), categories,
                   None if cap is None else float(cap), float(data.get("confirm_above", 0.5)))

    def save(self, path: Path) -> Path:
        payload: dict[str, Any] = {
            "fast": self.fast.spec(),
            "full": self.full.spec(),
            "escalate_above": round(self.escalate_above, 6),
            "cleared_cap": self.cleared_cap,
            "confirm_above": self.confirm_above,
            "categories": {name: {**c.head.spec(), "threshold": round(c.threshold, 6)}
                           for name, c in self.categories.items()},
            "meta": self.meta,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload) + "\n")
        return path

    def score(self, texts: list[str], *, full_stage_for_all: bool = False) -> WindowScores:
        """Per-window probabilities; the transformer runs only on the windows the fast stage escalates
        (on every window with ``full_stage_for_all``)."""
        static = static_vectors(texts)
        fast = self.fast.probabilities(static)
        # uncapped, a window the fast stage would flag goes on too: the transformer confirms every flag
        cut = self.escalate_above if self.cleared_cap is not None else min(self.escalate_above, self.confirm_above)
        escalated = np.arange(len(texts)) if full_stage_for_all else np.flatnonzero(fast >= cut)
        probabilities = fast.astype(np.float64)
        if self.cleared_cap is not None:
            probabilities = np.minimum(probabilities, self.cleared_cap)
        categories = {name: np.zeros(len(texts)) for name in self.categories}
        if escalated.size:
            features = np.hstack([static[escalated], sentence_memo.encode([texts[i] for i in escalated])])
            probabilities[escalated] = self.full.probabilities(features)
            for name, category in self.categories.items():
                categories[name][escalated] = category.head.probabilities(features)
        return WindowScores(probabilities, int(escalated.size), categories)

    def flagged_categories(self, scores: WindowScores) -> dict[str, float]:
        """Categories whose worst window reaches its own threshold, with that window's probability."""
        out = {}
        for name, category in self.categories.items():
            worst = float(scores.categories[name].max()) if len(scores.categories[name]) else 0.0
            if worst >= category.threshold:
                out[name] = round(worst, 4)
        return out


@dataclass(frozen=True)
class WindowScores:
    probabilities: np.ndarray
    escalated: int
    categories: dict[str, np.ndarray]


class WindowedHead:
    """A detector's two-stage model (loaded on first use) scored over a text's windows; the worst
    window counts."""

    model_name: str = ""

    def __init__(self, model: CascadeModel | None = None, *, max_windows: int = 16) -> None:
        self._model = model
        self._lock = threading.Lock()
        self.max_windows = max_windows

    @property
    def model(self) -> CascadeModel:
        with self._lock:
            if self._model is None:
                self._model = CascadeModel.load(MODEL_DIR / f"{self.model_name}.json")
            return self._model

    def require_models(self) -> None:
        """Fail now, with the file named, when a model file, the static table or the encoder graph is
        missing: a detector without its weights must stop the start, never pass every text."""
        from shared.embeddings.onnx_encoder import DEFAULT_ONNX_MODEL
        from shared.embeddings.static_encoder import DEFAULT_STATIC_MODEL

        if self._model is None:
            self.model  # noqa: B018 - loads and validates the file now
        for path, script in ((DEFAULT_ONNX_MODEL, "export_encoder_onnx.py"),
                             (DEFAULT_STATIC_MODEL, "distill_static_encoder.py")):
            if not path.is_file():
                raise FileNotFoundError(f"encoder file {path} is missing: run scripts/{script}")

    def worst_window(self, clean: str, *, full_for_one_window: bool = False) -> tuple[float, int, WindowScores]:
        """(highest window probability, number of windows, the scores) for canonicalised text. With
        ``full_for_one_window`` a text that is a single window goes straight to the full stage."""
        windows = text_windows(clean, max_windows=self.max_windows)
        scores = self.model.score(windows, full_stage_for_all=full_for_one_window and len(windows) == 1)
        return float(np.max(scores.probabilities)), len(scores.probabilities), scores


def static_vectors(texts: list[str]) -> np.ndarray:
    from shared.embeddings.static_encoder import shared_static_encoder

    return shared_static_encoder().encode(texts)

