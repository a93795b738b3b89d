"""Money is kept in integer cents everywhere; people and the public API see euros as a decimal string."""


def cents_to_str(cents: int | None) -> str | None:
    """8900 -> "89.00" (None stays None)."""
    if cents is None:
        return None
    return f"{cents // 100}.{cents % 100:02d}"


def euros(cents: int) -> str:
    """8900 -> "€89.00", for messages to people."""
    return f"€{cents_to_str(cents)}"
