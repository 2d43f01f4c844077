"""Derive a length-matched groundedness set from HaluEval-style QA: one number or one name swapped.

    python scripts/make_groundedness_sets.py [--data-dir ../shared/data] --output swapped.jsonl

For every faithful answer (label 0) that contains a number or a capitalised name, the script writes
the original (label 0) and a copy in which exactly one number or one name is replaced by an invented
one of about the same length that the context does not contain (label 1). Both answers of a pair
have nearly the same length, so a detector cannot tell them apart by length; it has to notice the
invented detail. The output lines carry ``context``, ``question``, ``answer``, ``label``, ``swap``.
The derived file is not committed (the source texts stay outside the repository); the benchmark
derives it in memory.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"

# Invented names (checked against each context before use).
INVENTED_NAMES = (
    "Varnek", "Tollisford", "Quorvath", "Belmira", "Castovan", "Dremmel", "Ostrana", "Pellucid", "Marwick",
    "Zentara", "Holloway Brix", "Sunderholt", "Ferrano", "Kelvaro", "Andrevsky", "Lisbury", "Tarrow",
    "Grevholm", "Nimsey", "Oberlaine", "Calderwyn", "Rusk", "Veyra", "Dalmont", "Ettridge", "Pranova",
)  # fmt: skip
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w.]|\.\d)")
_NAME = re.compile(r"(?<![\w'])[A-Z][a-zà-ÿ]{2,}(?:\s+[A-Z][a-zà-ÿ]{2,})*")


def _new_number(value: str, context: str, rng: random.Random) -> str | None:
    digits = value.replace(",", "")
    for _ in range(20):
        if "." in digits:
            candidate = f"{float(digits) * rng.uniform(1.3, 2.5):.{len(digits.split('.')[1])}f}"
        else:
            number = int(digits)
            candidate = str(number + rng.choice([-1, 1]) * rng.randint(max(1, number // 10), max(2, number // 3)))
            if len(candidate) != len(digits) or candidate.startswith("-"):
                candidate = str(rng.randint(10 ** (len(digits) - 1), 10 ** len(digits) - 1))
        if candidate != digits and candidate not in context:
            return candidate
    return None


def _new_name(value: str, context: str, rng: random.Random) -> str | None:
    words = value.split()
    target = rng.randrange(len(words))  # swap one word of a multi-word name
    lowered = context.lower()
    options = [
        n for n in INVENTED_NAMES if " " not in n and abs(len(n) - len(words[target])) <= 2 and n.lower() not in lowered
    ]
    if not options:
        return None
    words[target] = rng.choice(options)
    return " ".join(words)


def swapped_pairs(rows: list[dict], seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    out: list[dict] = []
    for row in rows:
        if row.get("label") != 0:
            continue
        answer, context = row["answer"], row["context"]
        numbers = list(_NUMBER.finditer(answer))
        names = [m for m in _NAME.finditer(answer) if m.group(0).lower() not in ("the", "yes", "no")]
        candidates = [("number", m) for m in numbers] + [("name", m) for m in names]
        rng.shuffle(candidates)
        for kind, match in candidates:
            replacement = (_new_number if kind == "number" else _new_name)(match.group(0), context, rng)
            if replacement:
                swapped = answer[: match.start()] + replacement + answer[match.end() :]
                base = {"context": context, "question": row.get("question")}
                out.append({**base, "answer": answer, "label": 0, "swap": None})
                out.append({**base, "answer": swapped, "label": 1, "swap": kind})
                break
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    source = args.data_dir / "hallucination" / "dev.jsonl"
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    pairs = swapped_pairs(rows, args.seed)
    with args.output.open("w", encoding="utf-8") as handle:
        for item in pairs:
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"{len(pairs) // 2} pairs ({sum(p['swap'] == 'number' for p in pairs)} numbers) -> {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
