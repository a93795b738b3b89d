"""Payment references: ISO 11649 structured creditor references, "RF" + two check digits + the order's code.

Banks carry them unchanged and EPC QR codes (GiroCode) hold them as the structured reference; the check
digits (ISO 7064 mod 97-10, as in an IBAN) catch a mistyped one. In a bank statement a reference may be
printed in groups of four, in lower case, between other words: `find_references` finds it all the same.
"""
from __future__ import annotations

import hashlib
import re
import uuid

# Crockford's base 32: no I, L, O or U, so a code read aloud or retyped is not mistaken for another
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12  # 60 bits of the order id: no two orders of a festival share a code in practice
_CANDIDATE = re.compile(rf"(?=(RF\d\d[0-9A-Z]{{{CODE_LENGTH}}}))")  # overlapping: "RF12 RF34…" tries both


def order_code(order_id: str) -> str:
    """The order's 12-sign code, from the first 60 bits of its id (of its SHA-256 for an id not a UUID)."""
    try:
        number = uuid.UUID(order_id).int
    except ValueError:
        number = int.from_bytes(hashlib.sha256(order_id.encode()).digest()[:16], "big")
    bits = number >> (128 - 5 * CODE_LENGTH)
    return "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in reversed(range(CODE_LENGTH)))


def _mod97(text: str) -> int:
    """ISO 7064 mod 97-10 of letters and digits (A=10 ... Z=35)."""
    remainder = 0
    for char in text:
        for digit in str(int(char, 36)):
            remainder = (remainder * 10 + int(digit)) % 97
    return remainder


def creditor_reference(order_id: str) -> str:
    """"RF" + check digits + the order's code, e.g. RF47 0F0E 0D0C 1111 as printed in groups of four."""
    code = order_code(order_id)
    return f"RF{98 - _mod97(code + 'RF00'):02d}{code}"


def is_valid(reference: str) -> bool:
    compact = reference.replace(" ", "").upper()
    return len(compact) > 4 and compact[:2] == "RF" and compact.isalnum() and _mod97(compact[4:] + compact[:4]) == 1


def printed(reference: str) -> str:
    """In groups of four, as a pay page and a bank show it."""
    return " ".join(reference[i:i + 4] for i in range(0, len(reference), 4))


def find_references(text: str) -> list[str]:
    """The valid creditor references of FestFlow's form in a statement's free text, tolerant of case, of
    spaces, dashes or dots inside them and of words around them."""
    compact = re.sub(r"[^0-9A-Z]", "", text.upper())
    found = []
    for match in _CANDIDATE.finditer(compact):
        reference = match.group(1)
        if is_valid(reference) and reference not in found:
            found.append(reference)
    return found
