"""PII detection and redaction with checksummed patterns: fast enough for every request (~µs per KB).

Types follow Presidio's names. Pattern types are validated where a checksum exists (credit cards by
Luhn and issuer prefix, IBANs by mod-97 and country length, SSNs by the allocation rules, IPv4 by
octet range); phone numbers need either an unmistakable shape (``+`` prefix, parentheses, a 3-3-4
grouping) or a phone word nearby. Names and street addresses are found only from strong cues
(``Name:``, ``My name is``, titles like ``Mr.``; a house number before a street-type word), which
catches a part of them with few false alarms; see the README for how far that gets.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Iterable

from shared.guardrails.prefilter import starting_at_first_chars
from shared.guardrails.text import map_span, normalize_with_map
from shared.guardrails.verdicts import Span

PATTERN_TYPES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS")
CUE_TYPES = ("PERSON", "STREET_ADDRESS")
ALL_TYPES = PATTERN_TYPES + CUE_TYPES

# Each pattern starts with a lookbehind or ``\b``, where the regex engine would try it at every
# position: ``starting_at_first_chars`` puts a lookahead of its possible first characters in front, so
# the engine skips to where a match can start (the scan takes ~40% less time on prose).
_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}\b")
_CARD = starting_at_first_chars(
    re.compile(r"(?<![\d.-])(?<!\d )\d{4}(?:([ -]?)\d{4,6})(?:\1\d{4,5}){0,3}(?:\1\d{1,4})?(?![\d-]|\.\d| \d)")
)
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?(?![A-Za-z0-9])")
_SSN = starting_at_first_chars(re.compile(r"(?<![\d-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\d-])"))
_IPV4 = starting_at_first_chars(re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d]|\.\d)"))
_IPV6 = starting_at_first_chars(re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])"))
# A run of digit groups; separators never span a line break.
_PHONE = starting_at_first_chars(re.compile(
    r"(?<![\w+.-])(?:\+|00)?(?:\d{7,15}|(?:\(\d{1,4}\)[ .-]?|\d{1,4}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,6}"
    r"(?:[ .-]\d{2,6}){0,4})(?:[ \t]?(?:x|ext\.?)[ \t]?\d{1,6})?(?!\w|-\d|\.\d)"
))
_PHONE_CUE = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mobile|cell|fax|desk|office|call|calls|calling|text|sms|whatsapp|contact|"
    r"reach|dial|messages to|answering at|ring|phone number)\b|\b(?:ph|tel|mob)\.?:"
)
# Numbers that are something else when these words precede them.
_NOT_PHONE_CUE = re.compile(
    r"(?i)\b(?:licen[cs]e|passport|account|acct|order|invoice|tracking|reference|ref|policy|member|serial|"
    r"case|ticket|id|isbn|zip|postcode|postal)\b[^\n\d]{0,20}$"
)
_SSN_CUE = re.compile(r"(?i)\b(?:ssn|social security|social sec)\b")
_DATE_LIKE = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$")

_PERSON_CUE = starting_at_first_chars(re.compile(
    r"(?:\b(?:[Mm]y name is|[Nn]ame:|[Ii] am|[Ii]'m|[Tt]his is|[Dd]ear|[Ss]incerely,?|[Rr]egards,?|[Cc]ontact:|"
    r"[Cc]ustomer:|[Pp]atient:|[Ss]igned,?)[ \t]*\n?[ \t]*|\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|Sir|Madam)\.?[ \t]+)"
    r"((?:[A-ZÀ-ÖØ-Þ][\w'’-]+|[A-Z]\.)(?:[ \t]+(?:(?:van|von|de|da|del|der|di|le|la|bin|al)[ \t]+)?"
    r"(?:[A-ZÀ-ÖØ-Þ][\w'’-]+|[A-Z]\.?)){0,3})"
))
_NOT_NAMES = frozenset(
    "I Im The A An And Or But So Not Sorry Happy Glad Here There Interested Looking Writing Calling Trying Going "
    "Thanks Thank Hello Hi Hey Please Yes No Sure Sir Madam Team Customer Support Service All Everyone".split()
)
_STREET = starting_at_first_chars(re.compile(
    r"\b\d{1,6}[A-Za-z]?,?[ \t]+(?:[A-ZÀ-Þ][\w'’.-]*[ \t]+){0,4}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Square|Sq|Terrace|"
    r"Parkway|Pkwy|Highway|Hwy|Circle|Cir|Trail|Row|Crescent|Close|Gardens|Gdns|Hill|Park|Walk|Mews|Green|"
    r"Strasse|Straße|str|gasse|weg|katu|gatan|vej|Rue|Via|Calle|Avenida|Rua)\b\.?"
    r"(?:,?[ \t]*(?:Apt|Apartment|Suite|Ste|Unit|Floor|Fl|#)\.?[ \t]*\w+)?"
))

_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[068]|6|35|2131|1800|50|5[6-8])")
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
    "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21,
    "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27,
    "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24,
    "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    compact = candidate.replace(" ", "").upper()
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def ssn_valid(area: str, group: str, serial: str) -> bool:
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _near(cue: re.Pattern[str], text: str, start: int, end: int, before: int = 40, after: int = 20) -> bool:
    return bool(cue.search(text, max(0, start - before), start)) or bool(cue.search(text, end, end + after))


class PiiScanner:
    """Finds PII spans in text; ``redact`` replaces them with typed placeholders like ``<EMAIL_ADDRESS>``."""

    def __init__(self, types: Iterable[str] = ALL_TYPES) -> None:
        self.types = frozenset(types)
        unknown = self.types - set(ALL_TYPES)
        if unknown:
            raise ValueError(f"unknown PII types {sorted(unknown)}; known: {', '.join(ALL_TYPES)}")

    def scan(self, text: str) -> list[Span]:
        if not text:
            return []
        normalized, index_map = normalize_with_map(text)
        spans = self._scan_normalized(normalized)
        if index_map is not None:
            spans = [Span(s.type, *map_span(index_map, s.start, s.end)) for s in spans]
        return spans

    def _scan_normalized(self, text: str) -> list[Span]:
        found: list[Span] = []
        starts: list[int] = []  # the spans taken so far never overlap: sorted by start, so are their ends
        ends: list[int] = []

        def add(kind: str, start: int, end: int) -> None:  # O(log n) overlap test: linear in the text overall
            if kind not in self.types:
                return
            at = bisect.bisect_left(starts, end)  # spans from ``at`` on start at or after ``end``
            if at and ends[at - 1] > start:  # the span before overlaps
                return
            found.append(Span(kind, start, end))
            starts.insert(at, start)
            ends.insert(at, end)

        has_at = "@" in text
        if has_at:
            for m in _EMAIL.finditer(text):
                add("EMAIL_ADDRESS", m.start(), m.end())
        for m in _IBAN.finditer(text):
            if iban_valid(m.group(0)):
                add("IBAN_CODE", m.start(), m.end())
        for m in _CARD.finditer(text):
            digits = re.sub(r"\D", "", m.group(0))
            if 12 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and luhn_valid(digits):
                add("CREDIT_CARD", m.start(), m.end())
        for m in _SSN.finditer(text):
            if ssn_valid(m.group(1), m.group(3), m.group(4)) and (
                m.group(2) == "-" or _near(_SSN_CUE, text, m.start(), m.end(), 60, 10)
            ):
                add("US_SSN", m.start(), m.end())
        if "." in text:
            for m in _IPV4.finditer(text):
                if all(int(octet) <= 255 for octet in m.group(0).split(".")):
                    add("IP_ADDRESS", m.start(), m.end())
        if ":" in text:
            for m in _IPV6.finditer(text):
                if m.group(0).count(":") >= 2 and _is_ipv6(m.group(0)):
                    add("IP_ADDRESS", m.start(), m.end())
        for m in _PHONE.finditer(text):
            if self._is_phone(text, m.group(0), m.start(), m.end()):
                add("PHONE_NUMBER", m.start(), m.end())
        if "PERSON" in self.types:
            for m in _PERSON_CUE.finditer(text):
                name = m.group(1).rstrip(".")
                if name.split()[0] not in _NOT_NAMES:
                    add("PERSON", m.start(1), m.start(1) + len(name))
        if "STREET_ADDRESS" in self.types:
            for m in _STREET.finditer(text):
                add("STREET_ADDRESS", m.start(), m.end())
        found.sort(key=lambda s: s.start)
        return found

    @staticmethod
    def _is_phone(text: str, value: str, start: int, end: int) -> bool:
        digits = sum(c.isdigit() for c in value)
        if digits < 7 or digits > 15 + 6 or _DATE_LIKE.match(value):
            return False
        main = re.split(r"\s?(?:x|ext)", value)[0]
        main_digits = sum(c.isdigit() for c in main)
        if main_digits < 7 or main_digits > 15:
            return False
        if _NOT_PHONE_CUE.search(text, max(0, start - 40), start):
            return False
        groups = re.findall(r"\d+", main)
        if len(groups) == 1 and not value.startswith("+") and main_digits not in (10, 11):
            return _near(_PHONE_CUE, text, start, end)  # a bare run of digits: only with a phone word
        strong = (
            value.startswith(("+", "("))
            or "(" in main
            or "x" in value
            or bool(re.fullmatch(r"(?:1[ .-])?\d{3}[ .-]\d{3}[ .-]\d{4}", main))
        )
        return strong or _near(_PHONE_CUE, text, start, end)

    def redact(self, text: str, spans: list[Span] | None = None) -> str:
        spans = self.scan(text) if spans is None else spans
        return redact_spans(text, spans)


def redact_spans(text: str, spans: list[Span]) -> str:
    pieces: list[str] = []
    position = 0
    for span in sorted(spans, key=lambda s: s.start):
        if span.start < position:
            continue
        pieces.append(text[position : span.start])
        pieces.append(f"<{span.type}>")
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces)


def _is_ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True
