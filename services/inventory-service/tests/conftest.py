import pytest

from inventory_service import db


@pytest.fixture
async def engine(tmp_path):
    """A fresh inventory database file with the seeded ticket types."""
    engine = db.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'inventory.db'}")
    await db.create_schema(engine)
    await db.seed(engine)
    yield engine
    await engine.dispose()
