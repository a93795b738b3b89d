"""The schema helper: a table that gains a nullable column, or one with a server default, in a newer release
gets it on start-up."""
import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy import text

from festflow_runtime import database


async def test_new_nullable_columns_are_added_to_an_existing_table(tmp_path):
    engine = database.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    old = sa.MetaData()
    sa.Table("things", old, sa.Column("id", sa.Integer, primary_key=True))
    await database.create_schema(engine, old)
    async with engine.begin() as conn:
        await conn.execute(sa.text("INSERT INTO things (id) VALUES (1)"))
    new = sa.MetaData()
    things = sa.Table("things", new, sa.Column("id", sa.Integer, primary_key=True),
                      sa.Column("description", sa.Text), sa.Column("starts_at", sa.String(40)),
                      sa.Column("hold_minutes", sa.Integer, nullable=False, server_default="15"),
                      sa.Column("iban", sa.String(34), nullable=False, server_default=""))
    await database.create_schema(engine, new)
    await database.create_schema(engine, new)  # and again: nothing left to add
    async with engine.begin() as conn:
        await conn.execute(things.update().values(description="kept"))
        assert (await conn.execute(sa.select(things))).all() == [(1, "kept", None, 15, "")]
        await conn.execute(sa.text("INSERT INTO things (id) VALUES (2)"))  # a new row gets the defaults too
        assert (await conn.execute(sa.select(things.c.hold_minutes).where(things.c.id == 2))).scalar() == 15
    broken = sa.MetaData()
    sa.Table("things", broken, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("must", sa.Integer, nullable=False))
    with pytest.raises(RuntimeError, match="things.must is new to this database"):
        await database.create_schema(engine, broken)
    await engine.dispose()


async def test_no_other_task_ever_finds_the_sqlite_connection_out(tmp_path):
    """SQLite statements run inline, so a transaction never lets another task run before it ends, and its
    connection must be back in the pool by then too: a loop turn in between made every other task queue
    for the one connection (under a drop's load, for seconds)."""
    engine = database.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
    pool = engine.sync_engine.pool
    seen_out = []
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))

        async def write(n):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
            async with engine.connect() as conn:
                await conn.execute(text("SELECT count(*) FROM t"))

        async def watch():  # another task of the service, looking at the pool each time it runs
            while True:
                seen_out.append(pool.checkedout())
                await asyncio.sleep(0)

        watcher = asyncio.create_task(watch())
        await asyncio.gather(*(write(n) for n in range(200)))
        watcher.cancel()
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 200
        assert seen_out and set(seen_out) == {0}
    finally:
        await engine.dispose()
