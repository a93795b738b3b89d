"""The schema helper: a table that gains a nullable column in a newer release gets it on start-up."""
import sqlalchemy as sa

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
                      sa.Column("description", sa.Text), sa.Column("starts_at", sa.String(40)))
    await database.create_schema(engine, new)
    await database.create_schema(engine, new)  # and again: nothing left to add
    async with engine.begin() as conn:
        await conn.execute(things.update().values(description="kept"))
        assert (await conn.execute(sa.select(things))).all() == [(1, "kept", None)]
    await engine.dispose()
