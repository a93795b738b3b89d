import pytest

from ticketing_service import db
from ticketing_service.signing import TicketSigner, generate_key_pem


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def engine(request, tmp_path):
    """The ticketing schema on an SQLite file, and again on a real PostgreSQL server (tests marked postgres)."""
    url = (f"sqlite+aiosqlite:///{tmp_path / 'ticketing.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    engine = db.make_engine(url)
    await db.create_schema(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def signer() -> TicketSigner:
    return TicketSigner(generate_key_pem())
