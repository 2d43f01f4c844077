"""Prompt injection and jailbreak detection, in user prompts and in supplied documents.

Two detectors, the stronger verdict wins:

- rules: phrasings that override or extract instructions ("ignore all previous instructions",
  "reveal your system prompt", "you are DAN", chat-template markers), in English, German, French
  and Spanish, combined as independent evidence (``1 - prod(1 - weight)``). Words that merely sound
  dangerous ("kill a process", "ignore case") carry no weight on their own.
- a two-stage model (``cascade.py``, ``models/injection.json``: static word-piece vectors first,
  the int8 MiniLM embedding where that stage is unsure), scored window by window over the text; the
  worst window counts. It is trained on every source of ``data/CARD.md``: attacks from several
  communities, and as negatives support, banking, assistant, writing, code and maths requests,
  dangerous-sounding benign prompts and long benign e-mails, so length is not a signal.
  When no rule fired, a short text needs stronger model evidence (``ShortTextPrior``): terse
  requests ("refund pls", "Order 4417 status") are the bulk of a support gateway's traffic, while
  a short attack usually carries a phrase the rules know.

The text is canonicalised first: zero-width characters removed, look-alike letters folded, base64
payloads decoded and appended.
"""

from __future__ import annotations

import re
from typing import Any

from shared.guardrails.cascade import WindowedHead
from shared.guardrails.classifier import ShortTextPrior
from shared.guardrails.prefilter import leading_literals, may_match, starting_at_first_chars
from shared.guardrails.text import canonical, segments, sentence_windows

_OBJECT = (
    r"(?:instructions?|prompts?|rules|directives|guidelines|commands|tasks?|orders|programming|constraints|context)"
)
_RULES: list[tuple[str, float, re.Pattern[str]]] = [
    (
        "override",
        0.9,
        re.compile(
            r"(?i)\b(?:ignore|disregard|forget|override|bypass|skip|drop)\s+(?:all\s+|any\s+|each\s+)?(?:of\s+)?"
            r"(?:the\s+|your\s+|my\s+|these\s+|those\s+)?(?:previous|prior|above|earlier|preceding|initial|original|"
            r"system|old|current|given|existing|safety)\s+(?:\w+\s+)?" + _OBJECT
        ),
    ),
    (
        "override",
        0.85,
        re.compile(
            r"(?i)\b(?:ignore|disregard|forget)\s+(?:all\s+|everything\s+)?(?:that\s+|what\s+|the\s+)?(?:above|before|"
            r"previously|said before|came before|you (?:were|have been) (?:told|given))"
        ),
    ),
    ("override", 0.7, re.compile(r"(?i)\b(?:ignore|disregard|forget)\s+(?:all\s+)?(?:your|the)\s+" + _OBJECT)),
    (
        "override",
        0.75,
        re.compile(
            r"(?i)\b(?:ignore|disregard|forget|drop|abandon|discard)\s+(?:all|any|every)\s+(?:of\s+)?(?:your\s+|the\s+)?"
            r"(?:instructions|prompts|directives|guidelines|commands|programming|constraints)\b"
        ),
    ),
    ("override", 0.55, re.compile(r"(?i)\bforget\s+(?:about\s+)?everything\b")),
    (
        "override",
        0.6,
        re.compile(
            r"(?i)\b(?:now|instead),?\s+(?:focus on|concentrate on|do)\s+(?:your|the|my)\s+new\s+"
            r"(?:task|assignment|instructions?)"
        ),
    ),
    (
        "extraction",
        0.8,
        re.compile(
            r"(?i)\b(?:reveal|show|print|output|repeat|display|tell|give|leak|spell out|write out|list)\s+(?:me\s+)?"
            r"(?:all\s+)?(?:of\s+)?(?:the (?:text|contents?|wording) of\s+)?(?:your|the)\s+"
            r"(?:(?:full|entire|initial|original|hidden|secret|exact|internal)\s+)*"
            r"(?:system\s+prompt|prompt\s*texts?|instructions|initial\s+prompt|hidden\s+prompt|pre-?prompt|"
            r"configuration|api\s+keys?|rules you were given)"
            # not "the instructions for assembling the desk", "the configuration of my router"
            r"(?!\s+(?:for|on|of|to)\s+(?:how\b|my\b|an?\b|\w+ing\b|the\s+(?!(?:ai|assistant|bot|chatbot|model|llm|"
            r"system)\b)|this\s+(?!(?:chat|conversation|session)\b)))"
        ),
    ),
    (
        "extraction",
        0.6,
        re.compile(
            r"(?i)\b(?:what|which)\s+(?:is|are|was|were)\s+your\s+(?:system\s+prompt|"
            r"(?:initial|original|hidden|secret)\s+(?:prompt|instructions))"
        ),
    ),
    # Persona names in capitals only: "Dan from sales", "hey dude" and "Stan in accounting" are customers.
    ("persona", 0.7, re.compile(r"\b(?:DAN|STAN|DUDE|AIM)\b")),
    (
        "persona",
        0.7,
        re.compile(
            r"(?i)\b(?:do anything now|jailbroken(?!\s+(?:i?phones?|ipads?|ios|android|devices?|tablets?|"
            r"consoles?|switch|kindle|watch))|god ?mode|evil (?:confidant|assistant|ai)|"
            r"unfiltered (?:ai|assistant|mode|response)|uncensored (?:ai|mode))\b"
            r"|\b(?:you are|you're|act as|become|pretend to be)\s+(?:now\s+)?(?:dan|stan|dude|aim)\b"
        ),
    ),
    ("persona", 0.45, re.compile(r"(?i)\b(?:developer|debug|maintenance)\s+mode\b|\bjailbreak\b")),
    (
        "persona",
        0.55,
        re.compile(
            r"(?i)\b(?:no|without(?: any)?|free of|free from|not bound by|break free of)\s+(?:ethical |moral |content "
            r"|safety )?(?:restrictions|limitations|filters|censorship|guidelines|rules|policies|boundaries)\b"
        ),
    ),
    (
        "persona",
        0.5,
        re.compile(
            r"(?i)\b(?:from now on|starting now|for the rest of this (?:chat|conversation)),?\s+"
            r"(?:you (?:are|will|must|shall)|act as|respond as|your name is)"
        ),
    ),
    (
        "persona",
        0.45,
        re.compile(
            r"(?i)\byou are (?:no longer|not) (?:an? )?(?:ai|assistant|language model|bound|"
            r"restricted|chatgpt)"
        ),
    ),
    (
        "persona",
        0.65,
        re.compile(
            r"(?i)\b(?:pretend|act as if|imagine|assume)\s+(?:that\s+)?you\s+(?:are|have|were)\s+"
            r"(?:no|not|never|an? (?:unfiltered|unrestricted|evil|amoral))"
        ),
    ),
    (
        "policy",
        0.6,
        re.compile(
            r"(?i)\b(?:content|safety|usage) polic(?:y|ies)\b.{0,40}\b(?:ignore|disable|bypass|"
            r"doesn't apply|don't apply|no longer appl)"
        ),
    ),
    (
        "markers",
        0.75,
        re.compile(
            r"\[/?(?:INST|SYS|SYSTEM)\]|<\|im_start\|>|<\|system\|>|<<SYS>>|###\s*(?:SYSTEM|"
            r"INSTRUCTION)S?\s*(?:OVERRIDE|###|:)"
        ),
    ),
    (
        "markers",
        0.5,
        re.compile(
            r"(?i)(?:^|\n)\s*(?:important\s+)?(?:system|admin|developer)\s+(?:message|note|"
            r"override|notice)\s*:"
        ),
    ),
    (
        "markers",
        0.6,
        re.compile(
            r"(?i)\b(?:if you are|to) an? (?:ai|llm|language model|assistant|chatbot)\b.{0,80}"
            r"\b(?:ignore|stop|instead|must|do not|don't)"
        ),
    ),
    ("override", 0.5, re.compile(r"(?i)\bnew (?:instructions?|task|rules)\s*:")),
    ("override", 0.6, re.compile(r"(?i)\byour new (?:task|role|job|instructions?|goal|purpose) (?:is|are)\b")),
    (
        "override",
        0.7,
        re.compile(
            r"(?i)\b(?:previous|prior|above|earlier|original|old|initial)\s+(?:instructions|rules|"
            r"guidelines|directives)\s+(?:no longer apply|are (?:void|cancelled|obsolete|revoked))"
        ),
    ),
    (
        "markers",
        0.7,
        re.compile(
            r"(?i)\b(?:new |secret |hidden )?instructions? for (?:the|you|this) (?:ai|assistant|"
            r"chatbot|model|llm|bot|language model)\b"
        ),
    ),
    ("markers", 0.5, re.compile(r"(?i)\bto the (?:ai|assistant|llm|model|chatbot|language model)\s*:")),
    ("override", 0.6, re.compile(r"(?i)\bignore\s+everything\b")),
    (
        "context_override",
        0.6,
        re.compile(
            r"(?i)\b(?:disregard(?:ing)?|ignor(?:e|ing)|forget(?:ting)?|without (?:using|looking at)|"
            r"not (?:by|according to|based on|look(?:ing)? (?:in|at))|instead of)\s+(?:the\s+|any\s+|these\s+)?"
            r"(?:provided\s+|given\s+|supplied\s+)?"
            r"(?:articles?|documents?|context|sources?|search results)\b"
        ),
    ),
    ("context_override", 0.5, re.compile(r"(?i)\bdespite what you(?:'ve| have) been (?:told|instructed)")),
    ("persona", 0.45, re.compile(r"(?i)\bpretend (?:that )?you (?:can|are|have|were|could)\b")),
    ("persona", 0.55, re.compile(r"(?i)\b(?:now|jetzt|nun)\s+(?:you are|you're|bist du)\b")),
    (
        "persona",
        0.65,
        re.compile(
            r"(?i)\b(?:stell dir vor|tu so),?\s+(?:als ob\s+)?du (?:bist|wärst|seist)\s+(?:eine?\s+)?"
            r"(?:böse|unzensierte|uneingeschränkte|freie)"
        ),
    ),
    ("markers", 0.6, re.compile(r"(?i)\b(?:attention|achtung|stop|stopp|halt)\s*[-–—!:]+\s*(?:stop|stopp|halt)\b")),
    (
        "override_i18n",
        0.8,
        re.compile(
            r"(?i)\b(?:die\s+)?(?:obigen|vorherigen|bisherigen)\s+(?:Ausführungen|Anweisungen|Instruktionen|Informationen)\s+"
            r"(?:ignorieren|vergessen|missachten)|\babweichend (?:zu|von) (?:den\s+)?(?:vorherigen|obigen)"
        ),
    ),
    ("override_i18n", 0.7, re.compile(r"(?i)\b(?:olvid[ae]|olvida|oubliez|oublie)\s+(?:todo|tout)\b")),
    (
        "override_i18n",
        0.9,
        re.compile(
            r"(?i)\b(?:vergiss|vergessen sie|ignoriere|ignorieren sie|missachte)\s+(?:alle[sn]?\s+)?"
            r"(?:die\s+|deine\s+)?"
            r"(?:vorherigen?|bisherigen?|obigen?|vorangegangenen?|vorangehenden?|vorausgegangenen?|früheren?|vorigen?)?"
            r"\s*(?:Anweisungen|Aufgaben|Instruktionen|Befehle|Regeln|Aufträge|Vorgaben)"
        ),
    ),
    ("override_i18n", 0.6, re.compile(r"(?i)\b(?:vergiss|vergessen sie)\s+alles\b")),
    (
        "override_i18n",
        0.9,
        re.compile(
            r"(?i)\b(?:ignora|olvida|ignore[zr]?|oublie[zr]?)\s+(?:todas?\s+|toutes?\s+|tous\s+)?(?:las\s+|los\s+|les\s+|"
            r"tus\s+|vos\s+)?(?:instrucciones|instructions|indicaciones|consignes|reglas|règles)"
        ),
    ),
]


# the words one of which each rule's every match starts with: a text with none of them skips the rule,
# and the rule's search jumps from one possible start to the next
_RULE_LITERALS = [leading_literals(pattern) for _, _, pattern in _RULES]
_RULES = [(code, weight, starting_at_first_chars(pattern)) for code, weight, pattern in _RULES]


def rule_score(text: str) -> tuple[float, list[str]]:
    remaining = 1.0
    hits: list[str] = []
    pieces = segments(text)
    lowered = text.lower()
    for (code, weight, pattern), literals in zip(_RULES, _RULE_LITERALS, strict=True):
        if may_match(literals, lowered) and any(pattern.search(piece) for _, piece in pieces):
            remaining *= 1.0 - weight
            hits.append(code)
    return 1.0 - remaining, sorted(set(hits))


# Supplied documents are judged sentence by sentence (``sentence_windows``): a planted instruction is
# one or two sentences in a page of ordinary text. A sentence of an ordinary e-mail or web page ("please
# send me the file", a quotation in a news story) reads to the model much like an instruction, so in a
# document the model's evidence counts only in a window that speaks to or about the assistant: its
# instructions, prompt or persona, what it should answer, say or output, or the user it answers
# (ADDRESSES_THE_ASSISTANT; a window where a rule fired counts too). Elsewhere the model's score is halved,
# below the default policy's 0.5 (a stricter policy still sees strong evidence). An addressed window's model
# evidence counts as it is: the cut where it meets the policy's 0.5 was chosen leave-one-source-out on
# data/corpora's documents (for each held-out source, the cut with the best attack recall at <= 3% of the
# other sources' benign documents flagged: 0.5 for every source, against 0.7 before the gate; see the README).
ADDRESSES_THE_ASSISTANT = starting_at_first_chars(re.compile(
    r"(?i)\b(?:ai|assistants?|chat ?bots?|chatgpt|gpt|llms?|language models?|bots?|openai|prompts?|"
    r"instructions?|ignore|disregard|forget|override|bypass|pretend|role-?play|jailbreak|respond|responses?|"
    r"answers?|reply|replies|output|print|say|repeat|translate|summar(?:y|i[sz]e)|the user|access granted|"
    r"from now on)\b"))
UNADDRESSED_MODEL_WEIGHT = 0.49


class InjectionDetector(WindowedHead):
    model_name = "injection"

    def score_document(self, text: str) -> tuple[float, dict[str, Any]]:
        """A document or tool result: the worst sentence window, rules and model per window."""
        if not text.strip():
            return 0.0, {}
        clean = canonical(text)
        units = sentence_windows(clean)
        scores = self.model.score(units)
        probabilities = scores.probabilities
        prior = ShortTextPrior.of(self.model.meta)
        best, best_rules, hits_all, unaddressed = 0.0, 0.0, set[str](), 0
        for unit, probability in zip(units, probabilities, strict=True):
            rules, hits = rule_score(unit)
            hits_all.update(hits)
            model = float(probability) if hits or prior is None else prior.apply(float(probability), unit)
            if not hits and not ADDRESSES_THE_ASSISTANT.search(unit):
                model *= UNADDRESSED_MODEL_WEIGHT
                unaddressed += 1
            best, best_rules = max(best, model), max(best_rules, rules)
        detail = {"model": round(best, 4), "rules": sorted(hits_all), "windows": len(units),
                  "unaddressed_windows": unaddressed, "escalated": scores.escalated, "document": True}
        return max(best, best_rules), detail

    def score(self, text: str) -> tuple[float, dict[str, Any]]:
        if not text.strip():
            return 0.0, {}
        clean = canonical(text)
        rules, hits = rule_score(clean)
        model, windows, scores = self.worst_window(clean)
        detail = {"model": round(model, 4), "rules": hits, "windows": windows, "escalated": scores.escalated}
        prior = ShortTextPrior.of(self.model.meta)
        if prior is not None and not hits:
            model = prior.apply(model, clean)
            detail["model_short_text"] = round(model, 4)
        if len(clean) != len(text):
            detail["normalized"] = True
        return max(model, rules), detail
