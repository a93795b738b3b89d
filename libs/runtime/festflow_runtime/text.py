"""Text that can be stored and sent: JSON may carry lone surrogates (\\ud800), which no database or
UTF-8 encoder accepts; a field with one is refused with a reason instead of failing later with a 500.
Control characters (other than a multi-line field's line breaks and tabs) are refused too."""
from __future__ import annotations

import unicodedata

ALLOWED_IN_MULTILINE = {"\n", "\r", "\t"}


def plain_text(value: str, multiline: bool = False) -> str:
    """The value, or ValueError (a 422 in a pydantic validator) if it cannot be encoded as UTF-8 or holds
    a control character."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be plain text (it contains an invalid character)") from None
    for char in value:
        if unicodedata.category(char) == "Cc" and not (multiline and char in ALLOWED_IN_MULTILINE):
            raise ValueError("must be plain text (it contains a control character)")
    return value
