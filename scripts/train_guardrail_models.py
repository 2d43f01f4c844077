"""Train the shipped two-stage guardrail models (prompt injection, toxicity) on every corpus source.

    python scripts/build_corpora.py              # data/corpora/*.jsonl from the pinned public sources
    python scripts/train_guardrail_models.py [--corpora data/corpora] [--out shared/guardrails/models]

The corpora and their sources are listed in ``data/CARD.md`` (``../shared/data``'s development sets
are among them). Each model is ``shared/guardrails/cascade.py``'s: a fast head over static word-piece
vectors, a full head over those and the int8 MiniLM embedding, and for toxicity one head per category
with its own threshold; every choice is made on the training rows (``scripts/detector_training.py``).
``bench/detection.py`` retrains the same recipe leave-one-source-out to say how it does on sources it
never saw. The injection model keeps the short-text prior the detector applies when no rule fired
(``ShortTextPrior`` in ``shared/guardrails/classifier.py``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from detector_training import (  # noqa: E402
    TOXICITY_HEADS,
    Features,
    balanced_weights,
    fit_cascade,
    injection_examples,
    read_rows,
    toxicity_examples,
)

from shared.guardrails.cascade import CascadeModel  # noqa: E402
from shared.guardrails.classifier import MODEL_DIR  # noqa: E402

# Chosen on the repo's own support-traffic train split when the injection head was first trained
# (see the README's guardrail benchmark): short texts with no rule hit need stronger evidence.
SHORT_TEXT_PRIOR = {"words": 16, "logit_shift": 2.0}
# AILuminate's rows are prompts asking an assistant for harmful help, labelled by hazard: they teach
# the categories (its sexual and self-harm prompts are the only ones), not what toxic language is.
# Trained on as toxic they pulled every other source's held-out AUROC down (scratch run of the full
# head leave-one-source-out, 2026-12-03: pooled 0.726 with them, 0.756 without).
TOXICITY_CATEGORIES_ONLY = frozenset({"ailuminate"})
# name: (examples, heads, escalation (see detector_training), extra meta, sources for the categories only)
RECIPES = {
    "injection": (injection_examples, ("injection",), ("benign", 0.98, 0.49, 0.5),
                  {"short_text_prior": SHORT_TEXT_PRIOR}, frozenset()),
    "toxicity": (toxicity_examples, TOXICITY_HEADS, ("benign", 0.98, None, 0.7), {}, TOXICITY_CATEGORIES_ONLY),
}


def train(name: str, corpora: Path, rows: list[dict[str, Any]] | None = None) -> CascadeModel:
    """The model of ``name`` trained on ``rows`` (default: the whole corpus)."""
    examples, heads, escalation, extra, categories_only = RECIPES[name]
    texts, labels, sources, shares = examples(rows if rows is not None else read_rows(corpora / f"{name}.jsonl"))
    static, minilm = Features(corpora / "features", name).of(texts)
    meta = {"encoder": "all-MiniLM-L6-v2 (int8) + static word pieces", "sources": sorted(set(sources)),
            "heads": list(heads), **extra, "trained_by": "scripts/train_guardrail_models.py"}
    if categories_only:
        meta["categories_only_sources"] = sorted(categories_only)
    only = np.array([s in categories_only for s in sources])
    return fit_cascade(static, minilm, labels, balanced_weights(labels, sources, shares), heads, meta, escalation, only)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=ROOT / "data" / "corpora")
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--only", choices=sorted(RECIPES), action="append")
    args = parser.parse_args(argv)
    for name in args.only or sorted(RECIPES):
        model = train(name, args.corpora)
        path = model.save(args.out / f"{name}.json")
        print(f"{name}: {model.meta['examples']} examples ({model.meta['positives']} positive), "
              f"escalate above {model.escalate_above:.3f}, categories {sorted(model.categories)} -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
