"""Rebuild the detectors' training corpora from their public sources (``scripts/corpus_sources.py``).

    python scripts/build_corpora.py [--mirror-dir /work/.mirror] [--shared-data ../shared/data] [--out data/corpora]

Writes JSON lines, one file per check, every row with its ``source`` (the unit of leave-one-source-out
evaluation in ``bench/detection.py``):

- ``injection.jsonl``: ``text``, ``label`` (1 = prompt attack), ``source``, ``kind`` (prompt | document);
  documents are benign e-mails, and e-mails with an instruction to the assistant planted in them
  (``kind: document``, ``label: 1``; the planted sentence comes from the attack sources, so a held-out
  attack source is held out in its planted copies too);
- ``toxicity.jsonl``: ``text``, ``label`` (1 = toxic), ``categories`` (harassment, hate, sexual,
  violence, self_harm; the ones its source marks), ``source``;
- ``groundedness.jsonl``: ``evidence``, ``claim``, ``label`` (1 = not supported), ``source``, ``kind``
  (``claim``: the source's supports / refutes label; ``swap``: a supported claim with one number or
  name replaced by one from another item of the same source; ``replaced_in_evidence``: whether the
  evidence states the replaced text, i.e. whether the swap took away support the claim had);
- ``paraphrase.jsonl``: ``a``, ``b``, ``label`` (1 = same question), ``source``.

The corpora are not committed (their licences differ, see ``data/CARD.md``); the trained weights are.
Sampling is deterministic (hash order), so a rebuild gives the same rows.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus_sources as S

OWN = S.ROOT / "data" / "guardrails"
csv.field_size_limit(10_000_000)


def ranked(items: Iterable[Any], salt: str) -> list[Any]:
    return sorted(items, key=lambda item: hashlib.sha1((salt + json.dumps(item, sort_keys=True)).encode()).hexdigest())


def sample(items: Iterable[Any], limit: int, salt: str) -> list[Any]:
    return ranked(items, salt)[:limit]


def read_csv(data: bytes, delimiter: str = ",") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8", "replace")), delimiter=delimiter))


def read_jsonl_bytes(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def read_shared(shared: Path, name: str) -> list[dict[str, Any]]:
    path = shared / S.SHARED[name]
    if not path.exists():
        print(f"note: {path} not found, its rows are left out", file=sys.stderr)
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def own(name: str) -> list[dict[str, Any]]:
    """The train split of one of the repo's own sets (its ``eval`` rows stay held out for bench/guardrails.py)."""
    rows = [json.loads(line) for line in (OWN / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row for row in rows if row.get("split", "train") == "train"]


# --- injection ------------------------------------------------------------------------------
def _enron_bodies(mirror: Path, limit: int) -> list[str]:
    names = sample(S.ENRON.list(mirror, S.ENRON.path), limit * 2, "enron")
    bodies = []
    for name in names:
        source = S.Source(S.ENRON.repo, S.ENRON.commit, name, S.ENRON.licence)
        text = source.read(mirror).decode("utf-8", "replace").split("@subject")[0].strip()
        if 200 <= len(text) <= 4000:
            bodies.append(text)
        if len(bodies) >= limit:
            break
    return bodies


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def plant(document: str, payload: str, salt: str) -> str:
    """The payload inserted between two sentences of the document (position from the hash)."""
    parts = _sentences(document)
    position = int(hashlib.sha1(salt.encode()).hexdigest(), 16) % (len(parts) + 1)
    return " ".join([*parts[:position], payload.strip(), *parts[position:]])


def _tasks_with_inputs(data: bytes) -> list[str]:
    """Self-instruct-format tasks (alpaca's seed tasks share the format): each instance's input after
    its task's instruction."""
    return [f"{row['instruction']}\n{instance['input']}".strip()
            for row in read_jsonl_bytes(data) for instance in row["instances"]]


def _evidence_pages(data: bytes, limit: int, salt: str) -> list[str]:
    """Up to ``limit`` distinct evidence texts (a claim's evidence joined, first 3,000 characters) of
    at least 200 characters: benign pages as supplied documents."""
    pages = sorted({" ".join(row["evidence"])[:3000] for row in read_jsonl_bytes(data)})
    return sample([page for page in pages if len(page) >= 200], limit, salt)


def injection_rows(mirror: Path, shared: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(text: str, label: int, source: str, kind: str = "prompt") -> None:
        text = text.strip()
        if text:
            rows.append({"text": text, "label": label, "source": source, "kind": kind})

    for row in read_shared(shared, "injection"):
        add(row["text"], int(row["label"]), row.get("source", "shared-injection"))
    jailbreaks = [r["prompt"] for r in read_csv(S.JAILBREAK_LLMS.read(mirror)) if r.get("jailbreak", "True") == "True"]
    for text in sorted(set(jailbreaks)):
        add(text, 1, "jailbreak-llms")
    attacks = set()
    for source in (S.TENSOR_TRUST_HIJACK, S.TENSOR_TRUST_EXTRACT):
        for row in read_jsonl_bytes(source.read(mirror)):
            attack = row["attack"].strip()
            letters = sum(c.isalpha() for c in attack)
            if 20 <= len(attack) <= 3000 and letters > 0.5 * len(attack) and len(set(attack.split())) > 4:
                attacks.add(attack)
    for text in sorted(attacks):
        add(text, 1, "tensor-trust")
    clinc = json.loads(S.CLINC.read(mirror))
    utterances = sorted({text for split in clinc.values() for text, _ in split})
    for text in sample(utterances, 3000, "clinc"):
        add(text, 0, "clinc150")
    banking = sorted({r["text"] for r in read_csv(S.BANKING77.read(mirror))})
    for text in sample(banking, 2000, "banking"):
        add(text, 0, "banking77")
    for text in _tasks_with_inputs(S.ALPACA_SEED.read(mirror)):
        add(text, 0, "alpaca-seed")
    for row in read_jsonl_bytes(gzip.decompress(S.HUMANEVAL.read(mirror))):
        add(f"Complete this function:\n{row['prompt']}", 0, "humaneval")
    code_tasks = sorted({f"{r['instruction']}\n{r['input']}".strip() for r in json.loads(S.CODE_ALPACA.read(mirror))})
    for text in sample(code_tasks, 1000, "code-alpaca"):
        add(text, 0, "code-alpaca")
    for text in sample(sorted({r["question"] for r in read_jsonl_bytes(S.GSM8K.read(mirror))}), 1000, "gsm8k"):
        add(text, 0, "gsm8k")
    for text in _tasks_with_inputs(S.SELF_INSTRUCT_USER.read(mirror)):
        add(text, 0, "self-instruct-user")
    for row in read_jsonl_bytes(S.WIZARDLM_TEST.read(mirror)):
        add(row["Instruction"], 0, "wizardlm-test")
    for text in json.loads(S.MBPP_PLUS.read(mirror)).values():
        add(text, 0, "mbpp-plus")
    for source in (S.MT_BENCH, S.VICUNA_BENCH):  # every turn: a follow-up turn is what a client sends
        for row in read_jsonl_bytes(source.read(mirror)):
            for turn in row["turns"]:
                add(turn, 0, "lmsys-bench")
    for language in S.XSID_LANGUAGES:  # the ``# text =`` line of each request in the validation split
        source = S.Source(S.XSID.repo, S.XSID.commit, f"{S.XSID.path}/{language}.valid.conll", S.XSID.licence)
        lines = source.read(mirror).decode("utf-8").splitlines()
        requests = sorted({line.split("=", 1)[1].strip() for line in lines if line.startswith("# text =")})
        if language in ("ja", "zh"):  # the files separate words with spaces; these scripts do not
            requests = sorted({re.sub(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])", "", r) for r in requests})
        for text in sample(requests, 120, f"xsid-{language}"):
            add(text, 0, "xsid")
    for name in ("benign_dangerous_prompts.jsonl", "benign_multilingual_prompts.jsonl", "benign_task_prompts.jsonl",
                 "benign_support_prompts.jsonl"):
        for row in own(name):
            add(row["text"], 0, "own-benign")
    for row in own("benign_long_documents.jsonl"):
        add(row["text"], 0, "own-documents", "document")
    # Benign pages of other writers as supplied documents: web pages cited as evidence, paper abstracts.
    for source, name in ((S.WICE, "wice-pages"), (S.COVIDFACT, "covidfact-abstracts")):
        for text in _evidence_pages(source.read(mirror), 300, name):
            add(text, 0, name, "document")
    emails = _enron_bodies(mirror, 1200)
    for text in emails[:800]:
        add(text, 0, "enron", "document")
    # Planted instructions: short attacks from each attack source, in the other 400 e-mails.
    payloads: dict[str, list[str]] = {}
    for row in rows:
        if row["label"] == 1 and row["kind"] == "prompt" and len(row["text"]) <= 400:
            payloads.setdefault(row["source"], []).append(row["text"])
    payloads["own-indirect"] = [r["text"] for r in own("indirect_injections.jsonl")]
    hosts = emails[800:]
    for source, texts in sorted(payloads.items()):
        for i, payload in enumerate(sample(texts, 100, f"plant-{source}")):
            host = hosts[int(hashlib.sha1(f"{source}{i}".encode()).hexdigest(), 16) % len(hosts)]
            add(plant(host, payload, f"{source}-{i}"), 1, source, "document")
    return rows


# --- toxicity -------------------------------------------------------------------------------
CATEGORIES = ("harassment", "hate", "sexual", "violence", "self_harm")
_AILUMINATE = {"hte": ["hate"], "vcr": ["violence"], "src": ["sexual", "violence"], "cse": ["sexual"],
               "sxc_prn": ["sexual"], "ssh": ["self_harm"]}  # fmt: skip


def toxicity_rows(mirror: Path, shared: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(text: str, categories: list[str], source: str, toxic: bool | None = None) -> None:
        text = text.strip()
        if text:
            label = int(bool(categories) if toxic is None else toxic)
            rows.append({"text": text, "label": label, "categories": sorted(set(categories)), "source": source})

    for row in read_shared(shared, "toxicity"):
        add(row["text"], ["harassment"] if row["label"] else [], row.get("source", "jigsaw"))
    davidson = read_csv(S.DAVIDSON.read(mirror))
    by_class: dict[str, list[str]] = {}
    for row in davidson:
        by_class.setdefault(row["class"], []).append(row["tweet"])
    for klass, limit, categories in (("0", 1430, ["hate", "harassment"]), ("1", 1500, ["harassment"]), ("2", 2500, [])):
        for text in sample(by_class[klass], limit, f"davidson{klass}"):
            add(text, categories, "davidson")
    for row in read_csv(S.HATECHECK.read(mirror)):
        add(row["test_case"], ["hate"] if row["label_gold"] == "hateful" else [], "hatecheck")
    multi = {r["comment"]: r for r in read_csv(S.ETHOS.read(mirror), ";")}
    for row in read_csv(S.ETHOS_BINARY.read(mirror), ";"):
        hateful = float(row["isHate"]) >= 0.5
        categories = ["hate"] if hateful else []
        extra = multi.get(row["comment"])
        if hateful and extra is not None and float(extra["violence"]) >= 0.5:
            categories.append("violence")
        add(row["comment"], categories, "ethos")
    for row in read_csv(S.SURGE.read(mirror)):
        add(row["text"], ["harassment"] if row["is_toxic"].strip().lower() == "toxic" else [], "surge-ai")
    for row in read_csv(S.AILUMINATE.read(mirror)):
        if row["hazard"] in _AILUMINATE:
            add(row["prompt_text"], _AILUMINATE[row["hazard"]], "ailuminate")
    # Benign requests of the kinds the platform serves, as negatives of their own source.
    clinc = json.loads(S.CLINC.read(mirror))
    utterances = sorted({text for split in clinc.values() for text, _ in split})
    for text in sample(utterances, 1500, "clinc-tox"):
        add(text, [], "clinc150")
    for name in ("benign_dangerous_prompts.jsonl", "benign_support_prompts.jsonl"):
        for row in own(name):
            add(row["text"], [], "own-benign")
    return rows


# --- groundedness ---------------------------------------------------------------------------
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_NAME = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]{2,}(?: [A-Z][a-z]{2,})*")


def swap_one(claim: str, pool_numbers: list[str], pool_names: list[str], salt: str) -> tuple[str, str] | None:
    """The claim with one number (else one mid-sentence name) replaced by a different one from the pool,
    and the replaced text."""
    digest = int(hashlib.sha1(salt.encode()).hexdigest(), 16)
    for pattern, pool in ((_NUMBER, pool_numbers), (_NAME, pool_names)):
        matches = list(pattern.finditer(claim))
        if not matches or not pool:
            continue
        match = matches[digest % len(matches)]
        options = [p for p in pool if p.lower() != match.group(0).lower() and p.lower() not in claim.lower()]
        if not options:
            continue
        replacement = options[digest % len(options)]
        return claim[: match.start()] + replacement + claim[match.end() :], match.group(0)
    return None


def in_text(fragment: str, text: str) -> bool:
    """Whether the fragment occurs in the text as a whole word (case-insensitive)."""
    return re.search(rf"(?<![\w]){re.escape(fragment.lower())}(?![\w])", text.lower()) is not None


def groundedness_rows(mirror: Path) -> list[dict[str, Any]]:
    items: list[tuple[str, str, int, str]] = []  # evidence, claim, label (1 = unsupported), source
    for source in (S.HEALTHVER_DEV, S.HEALTHVER_TEST):
        for row in read_csv(source.read(mirror)):
            if row["label"] in ("Supports", "Refutes"):
                items.append((row["evidence"], row["claim"], int(row["label"] == "Refutes"), "healthver"))
    for row in read_jsonl_bytes(S.COVIDFACT.read(mirror)):
        items.append((" ".join(row["evidence"]), row["claim"], int(row["label"] == "REFUTED"), "covidfact"))
    for row in read_jsonl_bytes(S.WICE.read(mirror)):
        if row["label"] in ("supported", "not_supported"):
            evidence = " ".join(row["evidence"])[:6000]
            items.append((evidence, row["claim"], int(row["label"] == "not_supported"), "wice"))
    for row in own("claim_evidence.jsonl"):
        items.append((row["evidence"], row["claim"], int(row["label"]), "own-claims"))
    rows = [{"evidence": e, "claim": c, "label": y, "source": s, "kind": "claim"} for e, c, y, s in items]
    for source in sorted({s for *_, s in items}):
        supported = [(e, c) for e, c, y, s in items if s == source and y == 0]
        numbers = sorted({n for e, _ in supported for n in _NUMBER.findall(e)})
        names = sorted({n for e, _ in supported for n in _NAME.findall(e)})
        for i, (evidence, claim) in enumerate(sample(supported, 400, f"swap-{source}")):
            swap = swap_one(claim, numbers, names, f"{source}-{i}")
            if swap is None:
                continue
            # whether the evidence states the replaced number or name: if it does not, the original claim
            # is no better supported by this evidence than the swapped one
            stated = in_text(swap[1], evidence)
            pair = {"evidence": evidence, "source": source, "kind": "swap", "replaced_in_evidence": stated}
            rows.append({**pair, "claim": claim, "label": 0})
            rows.append({**pair, "claim": swap[0], "label": 1})
    return rows


# --- paraphrase -----------------------------------------------------------------------------
def paraphrase_rows(mirror: Path, shared: Path) -> list[dict[str, Any]]:
    rows = [
        {"a": r["a"], "b": r["b"], "label": int(r["label"]), "source": r.get("source", "shared")}
        for r in read_shared(shared, "paraphrase")
    ]
    for row in csv.reader(io.StringIO(S.MQP.read(mirror).decode("utf-8"))):
        if len(row) == 4:
            rows.append({"a": row[1], "b": row[2], "label": int(row[3]), "source": "mqp"})
    return rows + covid_q_pairs(mirror)


def covid_q_pairs(mirror: Path, limit: int = 1200) -> list[dict[str, Any]]:
    """COVID-Q question pairs: two wordings from one class (one answer serves both) as positives; as
    negatives the pairs from different classes that share most words (what a cache lookup meets: the
    nearest question asked before, with another answer). Wordings equal after case and spacing are
    left out (the exact cache serves those; the same wording listed under two classes is a label slip)."""
    classes: dict[str, list[str]] = {}
    for row in read_csv(S.COVID_Q.read(mirror)):
        question = " ".join(row["Question"].split())
        wordings = classes.setdefault(row["Question ID"], [])
        if question and question.lower() not in {w.lower() for w in wordings}:
            wordings.append(question)
    positives = [(a, b) for wordings in classes.values() for i, a in enumerate(wordings) for b in wordings[i + 1 :]]
    questions = [(cls, q, frozenset(q.lower().split())) for cls, wordings in sorted(classes.items()) for q in wordings]
    overlap = {(a, b): len(x & y) / len(x | y) for i, (c, a, x) in enumerate(questions)
               for d, b, y in questions[i + 1 :] if c != d and x & y and a.lower() != b.lower()}
    negatives = sorted(ranked(overlap, "covid-q-0"), key=lambda pair: -overlap[pair])
    return [{"a": a, "b": b, "label": label, "source": "covid-q"}
            for label, pairs in ((1, sample(positives, limit, "covid-q-1")), (0, negatives[:limit])) for a, b in pairs]


BUILDERS = {
    "injection": lambda m, s: injection_rows(m, s),
    "toxicity": lambda m, s: toxicity_rows(m, s),
    "groundedness": lambda m, s: groundedness_rows(m),
    "paraphrase": lambda m, s: paraphrase_rows(m, s),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror-dir", type=Path, default=S.DEFAULT_MIRROR)
    parser.add_argument("--shared-data", type=Path, default=S.SHARED_DATA)
    parser.add_argument("--out", type=Path, default=S.ROOT / "data" / "corpora")
    parser.add_argument("--only", choices=sorted(BUILDERS), action="append")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or sorted(BUILDERS):
        rows = BUILDERS[name](args.mirror_dir, args.shared_data)
        path = args.out / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        counts = Counter((r["source"], r["label"]) for r in rows)
        print(f"{name}: {len(rows)} rows -> {path}")
        for (source, label), count in sorted(counts.items()):
            print(f"  {source:22} label {label}: {count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
