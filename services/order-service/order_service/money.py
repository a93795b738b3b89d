"""Money is kept in integer cents; the API shows it as a decimal string with two places ("89.00")."""


def cents_to_str(cents: int | None) -> str | None:
    if cents is None:
        return None
    return f"{cents // 100}.{cents % 100:02d}"
