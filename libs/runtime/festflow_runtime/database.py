"""How a service opens its database: SQLite for a developer's machine, PostgreSQL for real.

SQLite gets one connection per process, so transactions queue fairly in the pool instead of racing for
SQLite's write lock and sleeping in its busy handler (which made each commit cost milliseconds under load),
and every transaction begins IMMEDIATE, so writers queue instead of failing.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, MetaData, event, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.schema import CreateColumn

from festflow_runtime.sqlite_inline import inline_url


def make_engine(url: str, *, wait_seconds: float = 60, pool_size: int = 10,
                foreign_keys: bool = False) -> AsyncEngine:
    """An engine for `url`; a request waits at most `wait_seconds` for a connection (then TimeoutError)."""
    if not url.startswith("sqlite"):
        return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_timeout=wait_seconds)
    # statements run on the loop's thread (sqlite_inline: no helper thread per statement); a statement
    # waits at most 5 s for another process's write lock (none is expected: one process per file)
    engine = InlineSQLiteEngine(create_async_engine(
        inline_url(url), connect_args={"timeout": 5, "check_same_thread": False},
        pool_size=1, max_overflow=0, pool_timeout=wait_seconds).sync_engine)

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # BEGIN IMMEDIATE below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=5000")
        if foreign_keys:
            cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class InlineClosingConnection(AsyncConnection):
    """Gives its connection back to the pool the moment `async with` ends.

    SQLAlchemy closes an async connection leaving `async with` in a task of its own, so that a cancelled
    caller cannot abandon the close halfway. That costs loop turns during which the connection is still
    out: with SQLite's one connection, every task wanting it queued behind, each handing it on a loop
    turn later, and under a drop's load (a loop turn of many requests) a checkout waited seconds, the
    relays starved and checkouts timed out (503). With the inline driver the close is one synchronous
    call, which no cancellation can interrupt, so it is simply done at once."""

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        await self.close()


class InlineSQLiteEngine(AsyncEngine):
    """An async engine over the inline SQLite driver whose connections close at once (above)."""
    __slots__ = ()
    _connection_cls = InlineClosingConnection


# Several instances of a service start at once on one PostgreSQL database: the first creates the schema
# and seeds, the others wait for it (a transaction-scoped advisory lock) and then find it done.
STARTUP_LOCK = 0x46657374  # "Fest"


async def startup_lock(conn: AsyncConnection) -> None:
    """Inside a transaction: wait until no other instance is creating or seeding this database."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STARTUP_LOCK})


async def create_schema(engine: AsyncEngine, metadata: MetaData) -> None:
    """Creates missing tables, and adds the columns and indexes a newer release gave an existing table (such a
    column must be nullable or have a server default, so the rows already there stay valid)."""
    async with engine.begin() as conn:
        await startup_lock(conn)
        await conn.run_sync(metadata.create_all)
        await conn.run_sync(_add_missing_columns, metadata)


def _add_missing_columns(sync_conn: Connection, metadata: MetaData) -> None:
    inspector = inspect(sync_conn)
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable and column.server_default is None:
                raise RuntimeError(f"{table.name}.{column.name} is new to this database: a new column must be "
                                   "nullable or have a server default")
            definition = CreateColumn(column).compile(dialect=sync_conn.dialect)  # type, default, NOT NULL
            sync_conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN {definition}'))
        for index in table.indexes:
            index.create(sync_conn, checkfirst=True)


async def health(engine: AsyncEngine) -> str:
    """"ok", or what went wrong reaching the database (a health check reports, never raises)."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"
