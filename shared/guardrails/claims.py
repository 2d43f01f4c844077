"""CRM product claims: find product mentions in an answer and the claims that contradict the catalog.

The catalog is a JSON file (a list of products, or ``{"products": [...]}``) or a CSV file with one
product a row. Each product has ``id`` and ``name``, optional ``aliases`` (list, or ``|``-separated
in CSV), ``price`` (number) with ``currency``, ``availability`` (``in_stock``, ``out_of_stock``,
``discontinued``, ``preorder``) and ``specs``: attribute -> value such as ``"12 hours"`` or
``"1.2 kg"`` (in CSV, any other column is a spec).

A sentence that names a product (or follows one with "it"/"this model") is checked for a price,
an availability phrase and spec values with units; a value that differs from the catalog's is a
contradiction. The finding's detail lists product id, attribute, catalog value and claimed value.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.guardrails.text import split_sentences
from shared.guardrails.verdicts import Span

_MONEY = re.compile(
    r"(?:(?:US)?\$|€|£|\b(?:USD|EUR|GBP)\s?)\s?(\d[\d,]*(?:\.\d{1,2})?)"
    r"|\b(\d[\d,]*(?:\.\d{1,2})?)\s?(?:dollars|euros|pounds|USD|EUR|GBP|€)\b"
)
_AVAILABILITY = [
    (
        "discontinued",
        re.compile(r"(?i)\b(?:discontinued|no longer (?:sold|made|produced|available|offered)|end[- ]of[- ]life)\b"),
    ),
    (
        "out_of_stock",
        re.compile(
            r"(?i)\b(?:out of stock|sold out|unavailable|not (?:currently )?(?:available|in stock)|"
            r"back[- ]?order(?:ed)?)\b"
        ),
    ),
    ("preorder", re.compile(r"(?i)\b(?:pre-?order|coming soon|not yet released)\b")),
    (
        "in_stock",
        re.compile(
            r"(?i)\b(?:in stock|available (?:now|today|immediately|for (?:immediate )?(?:delivery|purchase))|"
            r"ships? (?:today|immediately|within)|ready to ship|is available)\b"
        ),
    ),
]
_UNIT_ALIASES = {
    "h": "hour", "hr": "hour", "hrs": "hour", "hour": "hour", "hours": "hour",
    "min": "minute", "mins": "minute", "minute": "minute", "minutes": "minute",
    "kg": "kg", "kilogram": "kg", "kilograms": "kg", "g": "g", "gram": "g", "grams": "g",
    "lb": "lb", "lbs": "lb", "pound": "lb", "pounds": "lb",
    "gb": "gb", "tb": "tb", "mb": "mb", "mah": "mah", "w": "w", "watt": "w", "watts": "w", "v": "v", "volt": "v",
    "in": "inch", "inch": "inch", "inches": "inch", '"': "inch", "cm": "cm", "mm": "mm", "m": "m",
    "l": "l", "litre": "l", "liter": "l", "litres": "l", "liters": "l", "ml": "ml",
    "year": "year", "years": "year", "yr": "year", "month": "month", "months": "month",
    "day": "day", "days": "day", "ghz": "ghz", "mhz": "mhz", "mp": "mp", "megapixel": "mp", "megapixels": "mp",
    "rpm": "rpm", "db": "db", "hz": "hz", "fps": "fps", "core": "core", "cores": "core",
}  # fmt: skip
_QUANTITY = re.compile(
    r"(?<![\w.])(\d+(?:[.,]\d+)?)\s?(-?)\s?("
    + "|".join(sorted((re.escape(u) for u in _UNIT_ALIASES), key=len, reverse=True))
    + r")(?![\w])",
    re.IGNORECASE,
)
# "Price: 249 USD." right after a product is named is a fact about it (catalog-style answers)
_FACT_LABEL = re.compile(r"^[A-Za-z][\w ]{0,30}:\s")
_ANAPHORA = re.compile(r"(?i)^(?:it|this (?:model|product|one|item)|the (?:model|product|device|item))\b")


@dataclass
class Product:
    id: str
    name: str
    aliases: list[str] = field(default_factory=list)
    price: float | None = None
    currency: str | None = None
    availability: str | None = None
    specs: dict[str, str] = field(default_factory=dict)

    def quantities(self) -> dict[str, set[float]]:
        """Spec values by normalised unit (a unit may belong to several specs: RAM and storage in GB)."""
        by_unit: dict[str, set[float]] = {}
        for value in self.specs.values():
            for number, unit in _quantities(str(value)):
                by_unit.setdefault(unit, set()).add(number)
        return by_unit


def _quantities(text: str) -> list[tuple[float, str]]:
    return [(float(m.group(1).replace(",", ".")), _UNIT_ALIASES[m.group(3).lower()]) for m in _QUANTITY.finditer(text)]


def _money(text: str) -> list[float]:
    return [float((m.group(1) or m.group(2)).replace(",", "")) for m in _MONEY.finditer(text)]


class ProductCatalog:
    def __init__(self, products: list[Product]) -> None:
        if not products:
            raise ValueError("the product catalog is empty")
        self.products = products
        names: dict[str, Product] = {}
        for product in products:
            for name in [product.name, *product.aliases]:
                if name.strip():
                    names[name.strip().lower()] = product
        self._by_name = names
        alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        self._mention = re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])", re.IGNORECASE)

    @classmethod
    def load(cls, path: Path) -> ProductCatalog:
        if not path.exists():
            raise FileNotFoundError(f"product catalog {path} not found")
        if path.suffix.lower() == ".csv":
            with path.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
            products = [_product_from_csv(row) for row in rows]
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
            items = data["products"] if isinstance(data, dict) else data
            products = [_product_from_dict(item) for item in items]
        return cls(products)

    def mentions(self, text: str) -> list[tuple[Product, int, int]]:
        return [(self._by_name[m.group(0).lower()], m.start(), m.end()) for m in self._mention.finditer(text)]

    def check(self, text: str, preceding: str = "") -> tuple[list[Span], list[dict[str, Any]]]:
        """Contradicting sentences in ``text`` (``preceding`` = text already checked, for "it" references)."""
        full = preceding + text
        offset = len(preceding)
        spans: list[Span] = []
        problems: list[dict[str, Any]] = []
        current: Product | None = None
        for sentence in split_sentences(full):
            found = self.mentions(sentence.text)
            if found:
                products = list(dict.fromkeys(p.id for p, _, _ in found))
                current = next(p for p, _, _ in found if p.id == products[0]) if len(products) == 1 else None
                targets = [current] if current else []
            elif current is not None and (_ANAPHORA.match(sentence.text) or _FACT_LABEL.match(sentence.text)):
                targets = [current]
            else:
                targets = []
            if sentence.end <= offset or not targets:
                continue
            for product in targets:
                for problem in self._contradictions(product, sentence.text):
                    problems.append(problem)
                    span = Span("PRODUCT_CLAIM", max(sentence.start, offset) - offset, sentence.end - offset)
                    if span not in spans:
                        spans.append(span)
        return spans, problems

    @staticmethod
    def _contradictions(product: Product, sentence: str) -> list[dict[str, Any]]:
        problems: list[dict[str, Any]] = []
        if product.price is not None:
            for amount in _money(sentence):
                if abs(amount - product.price) > max(0.01, product.price * 0.005):
                    problems.append(
                        {"product": product.id, "attribute": "price", "catalog": product.price, "claimed": amount}
                    )
        if product.availability:
            for status, pattern in _AVAILABILITY:
                if pattern.search(sentence):
                    if status != product.availability:
                        problems.append(
                            {
                                "product": product.id,
                                "attribute": "availability",
                                "catalog": product.availability,
                                "claimed": status,
                            }
                        )
                    break
        spec_values = product.quantities()
        for number, unit in _quantities(_MONEY.sub(" ", sentence)):
            known = spec_values.get(unit)
            if known and not any(abs(number - value) <= 1e-6 * max(1.0, value) for value in known):
                problems.append(
                    {"product": product.id, "attribute": f"spec:{unit}", "catalog": sorted(known), "claimed": number}
                )
        return problems


def _product_from_dict(item: dict[str, Any]) -> Product:
    try:
        aliases = item.get("aliases") or []
        return Product(
            id=str(item["id"]),
            name=str(item["name"]),
            aliases=[aliases] if isinstance(aliases, str) else [str(a) for a in aliases],
            price=None if item.get("price") in (None, "") else float(item["price"]),
            currency=item.get("currency"),
            availability=_normalize_availability(item.get("availability")),
            specs={str(k): str(v) for k, v in (item.get("specs") or {}).items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"bad catalog entry {item!r:.120}: {exc}") from exc


def _product_from_csv(row: dict[str, str]) -> Product:
    reserved = {"id", "name", "aliases", "price", "currency", "availability"}
    item: dict[str, Any] = {k: v for k, v in row.items() if k in reserved}
    item["aliases"] = [a.strip() for a in (row.get("aliases") or "").split("|") if a.strip()]
    item["specs"] = {k: v for k, v in row.items() if k not in reserved and v not in (None, "")}
    return _product_from_dict(item)


def _normalize_availability(value: object) -> str | None:
    if value in (None, ""):
        return None
    normalized = str(value).strip().lower().replace(" ", "_").replace("-", "_")
    if normalized not in {"in_stock", "out_of_stock", "discontinued", "preorder"}:
        raise ValueError(f"availability must be in_stock, out_of_stock, discontinued or preorder, not {value!r}")
    return normalized


# Public names for readers of catalogs other than ProductCatalog.load (shared/grounding parses
# registered catalog sources into the same Product records, with line numbers in its errors).
product_from_dict = _product_from_dict
product_from_csv_row = _product_from_csv
