"""Text that can be stored and sent: JSON may carry lone surrogates (\\ud800), which no database or
UTF-8 encoder accepts; a field with one is refused with a reason instead of failing later with a 500."""
from __future__ import annotations


def plain_text(value: str) -> str:
    """The value, or ValueError (a 422 in a pydantic validator) if it cannot be encoded as UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be plain text (it contains an invalid character)") from None
    return value
