"""A fresh payment database (SQLite, and a real PostgreSQL server for tests marked postgres), and the sample
statements in tests/statements/ with the references of two orders filled in."""
from __future__ import annotations

from pathlib import Path

import pytest

from festflow_contracts.payment_reference import creditor_reference, printed
from payment_service import db

ANNA = "0f0e0d0c-1111-2222-3333-444455556666"  # awaits 178.00
BEN = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"  # awaits 89.00
SAMPLES = Path(__file__).parent / "statements"


def statement(name: str, anna_text: str | None = None) -> bytes:
    """A sample statement; Anna wrote her reference as people do (lower case, in groups, among words)."""
    text = (SAMPLES / name).read_text()
    anna = anna_text or f"Tickets {printed(creditor_reference(ANNA)).lower()} thanks"
    return text.replace("{ANNA_TEXT}", anna).replace("{BEN_REF}", creditor_reference(BEN)).encode()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def engine(request, tmp_path):
    url = (f"sqlite+aiosqlite:///{tmp_path / 'payments.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    engine = db.make_engine(url)
    await db.create_schema(engine)
    yield engine
    await engine.dispose()
