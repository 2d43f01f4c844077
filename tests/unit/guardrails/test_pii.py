import pytest

from shared.guardrails.pii import ALL_TYPES, PiiScanner, iban_valid, luhn_valid, redact_spans

scanner = PiiScanner(ALL_TYPES)


def kinds(text: str) -> list[tuple[str, str]]:
    return [(s.type, text[s.start : s.end]) for s in scanner.scan(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write to anna.berg+crm@example.co.uk today", ("EMAIL_ADDRESS", "anna.berg+crm@example.co.uk")),
        ("Card 4111 1111 1111 1111 expires soon", ("CREDIT_CARD", "4111 1111 1111 1111")),
        ("Amex 378282246310005 on file", ("CREDIT_CARD", "378282246310005")),
        ("Pay to DE89 3704 0044 0532 0130 00 please", ("IBAN_CODE", "DE89 3704 0044 0532 0130 00")),
        ("iban gb82west12345698765432 thanks", ("IBAN_CODE", "gb82west12345698765432")),
        ("My SSN is 536-90-4399.", ("US_SSN", "536-90-4399")),
        ("Login from 192.168.10.254 failed", ("IP_ADDRESS", "192.168.10.254")),
        ("Server 2001:db8:85a3::8a2e:370:7334 is down", ("IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334")),
        ("Call me on +44 20 7946 0958 tomorrow", ("PHONE_NUMBER", "+44 20 7946 0958")),
        ("Phone: 0612 345 678", ("PHONE_NUMBER", "0612 345 678")),
        ("reach me at (415) 555-0132 after 5", ("PHONE_NUMBER", "(415) 555-0132")),
        ("Name: Joanna Kowalska\nPhone:", ("PERSON", "Joanna Kowalska")),
        ("Ship it to 221B Baker Street, London", ("STREET_ADDRESS", "221B Baker Street")),
    ],
)
def test_finds_each_type(text, expected):
    assert expected in kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "Card 4111 1111 1111 1112 is not a real card",  # fails Luhn
        "Pay to DE89 3704 0044 0532 0130 01",  # fails mod-97
        "SSN 000-12-3456 and 666-12-3456 are never issued",
        "Version 10.2.300.4000 of the app, and 999.1.1.1 is no address",
        "Order 2024-03-15 shipped on 15.03.2024, invoice total 1,299.00",
        "The meeting is at 10:30 and lasts 45 minutes; we expect 1200 people.",
        "My driver's license number is 6940579",
        "Tracking reference 5512 8871 2093",
        "I'm Looking for a new laptop",
    ],
)
def test_no_false_alarms_on_lookalikes(text):
    found = [k for k, _ in kinds(text) if k != "STREET_ADDRESS"]
    assert found == [], text


def test_checksums():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82 WEST 1234 5698 7654 33")
    assert not iban_valid("XX82WEST12345698765432")


def test_evasion_with_zero_width_characters_and_fullwidth_digits():
    text = "email: bob\u200b@\u200bexample.org, ssn ５３６-９０-４３９９"
    found = kinds(text)
    assert ("EMAIL_ADDRESS", "bob\u200b@\u200bexample.org") in found
    assert ("US_SSN", "５３６-９０-４３９９") in found


def test_redaction_uses_typed_placeholders():
    text = "Mail anna@example.com or call +1 415 555 0132."
    assert scanner.redact(text) == "Mail <EMAIL_ADDRESS> or call <PHONE_NUMBER>."
    assert redact_spans("abc", []) == "abc"


def test_empty_binary_and_huge_inputs():
    assert scanner.scan("") == []
    assert scanner.scan("\x00\x01\xff\ufffd" * 100) == []
    huge = ("Lorem ipsum dolor sit amet. " * 40000) + "contact: zed@example.com"
    spans = scanner.scan(huge)
    assert [s.type for s in spans] == ["EMAIL_ADDRESS"]


def test_unknown_type_is_rejected():
    with pytest.raises(ValueError, match="unknown PII types"):
        PiiScanner(["EMAIL_ADDRESS", "SHOE_SIZE"])
