"""A fresh waiting-room database: an SQLite file, and a real PostgreSQL database for tests marked postgres."""
import pytest

from waiting_room import db


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def engine(request, tmp_path):
    url = (f"sqlite+aiosqlite:///{tmp_path / 'waiting-room.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    engine = db.make_engine(url)
    await db.create_schema(engine)
    yield engine
    await engine.dispose()
