import pytest

from inventory_service import db


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def engine(request, tmp_path):
    """A fresh inventory database with the seeded ticket types: an SQLite file, and a real PostgreSQL
    database (what docker-compose uses), so every stock rule is proven on both."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'inventory.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = db.make_engine(url)
    await db.create_schema(engine)
    await db.seed(engine)
    yield engine
    await engine.dispose()
