"""Grounding files: each format parsed into sections with their lines, errors naming file and line,
and chunks that keep their ids across unrelated edits."""

from __future__ import annotations

import itertools
import json

import pytest

from shared.grounding.chunking import chunk_file
from shared.grounding.parsing import SourceParseError, parse_file

CATALOG = {"products": [
    {"id": "cx-200", "name": "Contoso CX-200", "aliases": ["CX200"], "price": 199.0, "currency": "USD",
     "availability": "in_stock", "specs": {"battery life": "12 hours", "weight": "1.2 kg"}},
    {"id": "cx-500", "name": "Contoso CX-500", "price": 499, "availability": "out_of_stock"},
]}


def test_json_catalog_products_become_one_section_each_with_lines_and_record() -> None:
    text = json.dumps(CATALOG, indent=2)
    parsed = parse_file("catalog.json", text.encode())
    assert parsed.kind == "catalog" and [s.title for s in parsed.sections] == ["Contoso CX-200", "Contoso CX-500"]
    first, second = parsed.sections
    assert "Price: 199.00 USD." in first.text and "Battery life: 12 hours." in first.text
    assert first.product is not None and first.product["availability"] == "in_stock"
    lines = text.split("\n")
    assert lines[first.line_start - 1].strip() == "{" and '"cx-200"' in lines[first.line_start]
    assert second.line_start > first.line_end
    chunks = chunk_file(parsed)
    assert len(chunks) == 2 and chunks[0].product == first.product and chunks[0].location.startswith("catalog.json#L")


@pytest.mark.parametrize(("content", "line", "needle"), [
    ('{"products": [\n  {"id": "a", "name": "A"},\n  {"id": "b", "name": "B", "price": "cheap"}\n]}', 3, "price"),
    ('{"products": [\n  {"id": "a", "name": "A"},\n  {"id": "a", "name": "A again"}\n]}', 3, "duplicate"),
    ('{"products": [\n  {"id": "a", "name": "A",}\n]}', 2, "invalid JSON"),
    ('[\n  {"id": "a", "name": "A", "availability": "maybe"}\n]', 2, "availability"),
    ('[\n  {"name": "no id"}\n]', 2, "id"),
    ('{"items": []}', 1, "expected a list"),
])
def test_json_catalog_errors_name_the_line(content: str, line: int, needle: str) -> None:
    with pytest.raises(SourceParseError) as caught:
        parse_file("shop/catalog.json", content.encode())
    assert caught.value.path == "shop/catalog.json" and caught.value.line == line
    assert needle in str(caught.value) and str(caught.value).startswith(f"shop/catalog.json:{line}: ")


def test_csv_catalog_rows_and_their_errors() -> None:
    good = "id,name,aliases,price,currency,availability,battery life\ncx-200,Contoso CX-200,CX200|CX 200,199,USD," \
           "in stock,12 hours\n\ncx-500,Contoso CX-500,,499,USD,out_of_stock,\n"
    parsed = parse_file("catalog.csv", good.encode())
    assert [(s.title, s.line_start) for s in parsed.sections] == [("Contoso CX-200", 2), ("Contoso CX-500", 4)]
    assert parsed.sections[0].product["specs"] == {"battery life": "12 hours"}
    assert parsed.sections[0].product["aliases"] == ["CX200", "CX 200"]
    with pytest.raises(SourceParseError, match=r"^catalog.csv:3: .*price"):
        parse_file("catalog.csv", b"id,name,price\na,A,1\nb,B,abc\n")
    with pytest.raises(SourceParseError, match=r"^catalog.csv:2: 4 fields, the header has 3"):
        parse_file("catalog.csv", b"id,name,price\na,A,1,extra\n")
    with pytest.raises(SourceParseError, match=r"^catalog.csv:1: .*'id' and 'name'"):
        parse_file("catalog.csv", b"sku,title\na,A\n")
    with pytest.raises(SourceParseError, match=r"^catalog.csv:2: not UTF-8"):
        parse_file("catalog.csv", b"id,name\n\xff\xfe,A\n")


def test_markdown_sections_follow_headings_and_skip_fenced_hashes() -> None:
    text = ("# Returns\n\nYou can return any item within 30 days.\n\n## Refunds\n\nRefunds go to the original card."
            "\n\n```\n# not a heading\n```\n\n# Shipping\nWe ship worldwide.\n")
    sections = parse_file("faq.md", text.encode()).sections
    assert [(s.title, s.line_start) for s in sections] == [("Returns", 3), ("Returns > Refunds", 7),
                                                           ("Shipping", 14)]
    assert "# not a heading" in sections[1].text


def test_html_sections_skip_scripts_and_navigation() -> None:
    html = ("<html><head><title>Policy</title><script>var x = 'secret';</script></head><body>\n"
            "<nav>Home | Shop</nav>\n<h1>Warranty</h1>\n<p>Every device has a <b>two year</b> warranty.</p>\n"
            "<h2>Exclusions</h2>\n<ul><li>Water damage</li><li>Lost devices</li></ul>\n</body></html>")
    sections = parse_file("policy.html", html.encode()).sections
    assert [s.title for s in sections] == ["Warranty", "Warranty > Exclusions"]
    assert sections[0].text == "Every device has a two year warranty." and sections[0].line_start == 4
    assert "Water damage\nLost devices" in sections[1].text
    assert all("secret" not in s.text and "Home" not in s.text for s in sections)


def _pdf(pages: list[str]) -> bytes:
    """A minimal, valid PDF with one text line per page (Helvetica), written by hand."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", ""]
    kids = []
    for text in pages:
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        content_number = len(objects) + 2
        kids.append(len(objects) + 1)
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_number} 0 R "
                       "/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>")
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream.decode()}\nendstream")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_pdf_text_is_read_page_by_page_and_cited_by_page() -> None:
    parsed = parse_file("manual.pdf", _pdf(["Charging takes two hours.", "Reset by holding the power button."]))
    assert [(s.text, s.line_start) for s in parsed.sections] == [("Charging takes two hours.", 1),
                                                                 ("Reset by holding the power button.", 2)]
    assert chunk_file(parsed)[1].location == "manual.pdf#p.2"
    with pytest.raises(SourceParseError, match=r"^broken\.pdf: invalid PDF"):
        parse_file("broken.pdf", b"%PDF-1.4 this is not a pdf")


def test_text_pages_and_unsupported_types() -> None:
    sections = parse_file("terms.txt", b"Terms of sale\nPay within 14 days.\f\nPage two\nLate fees apply.").sections
    assert [(s.title, s.line_start, s.line_end) for s in sections] == [("Terms of sale", 1, 2), ("Page two", 3, 4)]
    with pytest.raises(SourceParseError, match=r"^notes.docx: unsupported file type \.docx"):
        parse_file("notes.docx", b"x")
    with pytest.raises(SourceParseError, match="no text found"):
        parse_file("empty.md", b"\n\n")


def test_long_sections_are_chunked_with_overlap_and_stable_ids() -> None:
    sentences = [f"Sentence number {i} explains how the device handles situation {i} in detail." for i in range(60)]
    body = "\n\n".join(" ".join(sentences[i:i + 3]) for i in range(0, 60, 3))
    parsed = parse_file("guide.md", f"# Guide\n\n{body}\n\n# Other\n\nShort section.\n".encode())
    chunks = chunk_file(parsed, max_tokens=120, overlap_tokens=20)
    guide = [c for c in chunks if c.title == "Guide"]
    assert len(guide) > 3 and all(c.tokens <= 120 for c in chunks)
    for before, after in itertools.pairwise(guide):
        assert before.text.split(". ")[-1].rstrip(".") in after.text  # the last sentence opens the next chunk
        assert after.line_start >= before.line_start
    edited = parse_file("guide.md", f"# Guide\n\n{body}\n\n# Other\n\nShort section, edited.\n".encode())
    again = chunk_file(edited, max_tokens=120, overlap_tokens=20)
    assert [c.id for c in again if c.title == "Guide"] == [c.id for c in guide]
    assert {c.id for c in again if c.title == "Other"} != {c.id for c in chunks if c.title == "Other"}
