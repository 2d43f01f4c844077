"""Reading grounding files into sections of text, with errors that name the file and the line.

Formats, chosen by file extension:

- product catalogs: ``.json`` (a list of products or ``{"products": [...]}``) and ``.csv`` (one product
  a row; columns ``id``, ``name``, ``aliases`` (``|``-separated), ``price``, ``currency``,
  ``availability``, any other column is a spec), the same shapes the ``product_claims`` guardrail reads.
  Each product becomes one section whose text states its facts, and keeps its record, so the
  product-claim check can be given exactly the products that were retrieved;
- documents: ``.md`` / ``.markdown`` (split at headings), ``.html`` / ``.htm`` (split at ``h1``-``h6``;
  scripts, styles and navigation left out), ``.txt`` (paragraphs; form feeds as page breaks, the way
  ``pdftotext`` writes them) and ``.pdf`` (its text layer, page by page, through ``pypdf``).

Every section records the lines (or pages) it came from, for citations. A problem is a
``SourceParseError`` whose message reads ``path:line: what is wrong``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import PurePath
from typing import Any, Literal

from shared.guardrails.claims import Product, product_from_csv_row, product_from_dict

CATALOG_SUFFIXES = frozenset({".json", ".csv"})
DOCUMENT_SUFFIXES = frozenset({".md", ".markdown", ".html", ".htm", ".txt", ".pdf"})
SUPPORTED_SUFFIXES = CATALOG_SUFFIXES | DOCUMENT_SUFFIXES
Kind = Literal["catalog", "documents"]


class SourceParseError(ValueError):
    """A grounding file that cannot be read; ``str()`` is ``path:line: message``."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


@dataclass(frozen=True, slots=True)
class Section:
    """A titled piece of a file: what chunking works on."""

    title: str  # heading path ("Returns > Refunds"), or the product's name
    text: str
    line_start: int  # 1-based, inclusive (pages for PDFs)
    line_end: int
    product: dict[str, Any] | None = None  # the catalog record (catalog sections only)


@dataclass(slots=True)
class ParsedFile:
    path: str
    kind: Kind
    sections: list[Section] = field(default_factory=list)
    unit: Literal["line", "page"] = "line"  # what Section.line_start/line_end count


def kind_of(path: str) -> Kind:
    suffix = PurePath(path).suffix.lower()
    if suffix in CATALOG_SUFFIXES:
        return "catalog"
    if suffix in DOCUMENT_SUFFIXES:
        return "documents"
    raise SourceParseError(path, None, f"unsupported file type {suffix or '(none)'}; supported: "
                           + ", ".join(sorted(SUPPORTED_SUFFIXES)))


def parse_file(path: str, data: bytes) -> ParsedFile:
    """Parse one file's bytes; ``path`` names it in errors and citations."""
    suffix = PurePath(path).suffix.lower()
    kind = kind_of(path)
    if suffix == ".pdf":
        return ParsedFile(path, kind, _pdf_sections(path, data), unit="page")
    text = _decode(path, data)
    if suffix == ".json":
        sections = _json_catalog(path, text)
    elif suffix == ".csv":
        sections = _csv_catalog(path, text)
    elif suffix in (".md", ".markdown"):
        sections = _markdown_sections(text)
    elif suffix in (".html", ".htm"):
        sections = _html_sections(path, text)
    else:
        sections = _text_sections(text)
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        raise SourceParseError(path, None, "no text found")
    return ParsedFile(path, kind, sections)


def _decode(path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceParseError(path, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x})") from None


# -- catalogs ----------------------------------------------------------------------------------
def product_text(product: Product) -> str:
    """The product's facts as sentences: what retrieval matches and what the model reads."""
    parts = [f"{product.name} (product id {product.id})."]
    if product.aliases:
        parts.append(f"Also known as {', '.join(product.aliases)}.")
    if product.price is not None:
        parts.append(f"Price: {product.price:.2f} {product.currency or 'USD'}.")
    if product.availability:
        parts.append(f"Availability: {product.availability.replace('_', ' ')}.")
    for name, value in product.specs.items():
        parts.append(f"{name[:1].upper()}{name[1:]}: {value}.")
    return " ".join(parts)


def product_record(product: Product) -> dict[str, Any]:
    return {"id": product.id, "name": product.name, "aliases": list(product.aliases), "price": product.price,
            "currency": product.currency, "availability": product.availability, "specs": dict(product.specs)}


def _catalog_section(product: Product, line_start: int, line_end: int) -> Section:
    return Section(product.name, product_text(product), line_start, line_end, product_record(product))


def _json_catalog(path: str, text: str) -> list[Section]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceParseError(path, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    items = data.get("products") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise SourceParseError(path, 1, 'expected a list of products or {"products": [...]}')
    lines = _item_lines(text, len(items))
    sections: list[Section] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        start, end = lines[index] if index < len(lines) else (1, 1)
        if not isinstance(item, dict):
            raise SourceParseError(path, start, f"product #{index + 1} is not an object")
        try:
            product = product_from_dict(item)
        except ValueError as exc:
            raise SourceParseError(path, start, f"product #{index + 1}: {_reason(exc)}") from None
        if product.id in seen:
            raise SourceParseError(path, start, f"duplicate product id {product.id!r} (first on line "
                                   f"{seen[product.id]})")
        seen[product.id] = start
        sections.append(_catalog_section(product, start, end))
    return sections


def _item_lines(text: str, count: int) -> list[tuple[int, int]]:
    """First and last line of each element of the product array (a light scan of the JSON text)."""
    start = text.find("[", text.find('"products"') if '"products"' in text else 0)
    decoder = json.JSONDecoder()
    spans: list[tuple[int, int]] = []
    position = start + 1
    while len(spans) < count and position < len(text):
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        try:
            _, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            break
        spans.append((text.count("\n", 0, position) + 1, text.count("\n", 0, end) + 1))
        position = end
    return spans


def _csv_catalog(path: str, text: str) -> list[Section]:
    reader = csv.reader(io.StringIO(text, newline=""))
    sections: list[Section] = []
    seen: dict[str, int] = {}
    try:
        header = [h.strip() for h in next(reader, [])]
        if not {"id", "name"} <= set(header):
            raise SourceParseError(path, 1, "the header must have 'id' and 'name' columns")
        start = reader.line_num + 1
        for row in reader:
            end = reader.line_num
            if not any(cell.strip() for cell in row):
                start = end + 1
                continue
            if len(row) > len(header):
                raise SourceParseError(path, start, f"{len(row)} fields, the header has {len(header)}")
            values = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header) if name}
            try:
                product = product_from_csv_row(values)
            except ValueError as exc:
                raise SourceParseError(path, start, _reason(exc)) from None
            if product.id in seen:
                raise SourceParseError(path, start, f"duplicate product id {product.id!r} (first on line "
                                       f"{seen[product.id]})")
            seen[product.id] = start
            sections.append(_catalog_section(product, start, end))
            start = end + 1
    except csv.Error as exc:
        raise SourceParseError(path, reader.line_num, f"invalid CSV: {exc}") from None
    return sections


def _reason(exc: ValueError) -> str:
    """The catalog loader's message without the echo of the whole entry."""
    text = str(exc)
    return text.split(": ", 1)[1] if text.startswith("bad catalog entry") and ": " in text else text


# -- documents ---------------------------------------------------------------------------------
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _markdown_sections(text: str) -> list[Section]:
    sections: list[Section] = []
    trail: list[tuple[int, str]] = []
    body: list[str] = []
    body_start = 1
    in_fence = False

    def flush(end: int) -> None:
        content = "\n".join(body).strip()
        if content:
            sections.append(Section(" > ".join(t for _, t in trail), content, body_start, end))

    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            flush(number - 1)
            level = len(heading.group(1))
            trail = [(lvl, title) for lvl, title in trail if lvl < level] + [(level, heading.group(2).strip())]
            body, body_start = [], number + 1
        else:
            if not body and not line.strip():
                body_start = number + 1
                continue
            body.append(line)
    flush(len(lines))
    return sections


def _text_sections(text: str) -> list[Section]:
    """Plain text: one section per page (form feed), the first line of a page as its title."""
    sections: list[Section] = []
    line = 1
    for page_number, page in enumerate(text.split("\f"), start=1):
        stripped = page.strip()
        if stripped:
            first = stripped.split("\n", 1)[0].strip()
            title = first[:80] if len(first) <= 80 else f"page {page_number}"
            offset = len(page) - len(page.lstrip())
            start = line + page.count("\n", 0, offset)
            sections.append(Section(title, stripped, start, start + stripped.count("\n")))
        line += page.count("\n")
    return sections


class _HtmlSections(HTMLParser):
    _SKIP = frozenset({"script", "style", "nav", "footer", "header", "noscript", "svg", "template"})
    _BLOCK = frozenset({"p", "div", "li", "tr", "br", "section", "article", "table", "ul", "ol", "dd", "dt",
                        "blockquote", "pre"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self.trail: list[tuple[int, str]] = []
        self.body: list[str] = []
        self.body_start = 1
        self.skip_depth = 0
        self.heading_level: int | None = None
        self.heading_text: list[str] = []
        self.title = ""
        self._in_title = False

    def flush(self, end: int) -> None:
        content = re.sub(r"[ \t]+", " ", "".join(self.body))
        content = re.sub(r"\s*\n\s*", "\n", content).strip()
        if content:
            title = " > ".join(t for _, t in self.trail) or self.title
            self.sections.append(Section(title, content, self.body_start, max(end, self.body_start)))
        self.body = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0]
        if tag in self._SKIP:
            self.skip_depth += 1
        elif tag == "title":
            self._in_title = True
        elif re.fullmatch(r"h[1-6]", tag):
            self.flush(line - 1)
            self.heading_level = int(tag[1])
            self.heading_text = []
        elif tag in self._BLOCK:
            self.body.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self.skip_depth:
            self.skip_depth -= 1
        elif tag == "title":
            self._in_title = False
        elif self.heading_level is not None and tag == f"h{self.heading_level}":
            text = " ".join("".join(self.heading_text).split())
            level = self.heading_level
            self.trail = [(lvl, t) for lvl, t in self.trail if lvl < level] + [(level, text)]
            self.heading_level = None
            self.body_start = self.getpos()[0]
        elif tag in self._BLOCK:
            self.body.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self._in_title:
            self.title += data.strip()
        elif self.heading_level is not None:
            self.heading_text.append(data)
        else:
            if not "".join(self.body).strip():
                self.body_start = self.getpos()[0]
            self.body.append(data)


def _html_sections(path: str, text: str) -> list[Section]:
    parser = _HtmlSections()
    try:
        parser.feed(text)
        parser.close()
    except Exception as exc:  # html.parser is lenient; anything it still rejects is reported, not raised
        raise SourceParseError(path, parser.getpos()[0], f"invalid HTML: {exc}") from None
    parser.flush(text.count("\n") + 1)
    return parser.sections


def _pdf_sections(path: str, data: bytes) -> list[Section]:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError:  # pragma: no cover - pypdf is a runtime dependency
        raise SourceParseError(path, None, "reading PDFs needs the pypdf package") from None
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise SourceParseError(path, None, f"invalid PDF: {exc}") from None
    sections = []
    for number, text in enumerate(pages, start=1):
        stripped = text.strip()
        if stripped:
            first = stripped.split("\n", 1)[0].strip()
            sections.append(Section(first[:80] if len(first) <= 80 else f"page {number}", stripped, number, number))
    if not sections:
        raise SourceParseError(path, None, "the PDF has no text layer (scanned pages need OCR first)")
    return sections
