"""SQLite for the async engine, run on the event loop's own thread.

aiosqlite runs every statement on a helper thread and hands the result back: two thread switches and a
fight for the GIL per statement, which profiling a drop showed to cost more than the statements
themselves (an indexed SQLite statement takes microseconds). Each FestFlow service opens its SQLite file
from one process through one connection (`database.make_engine`), so a statement never waits for another
writer here, and running it inline blocks the loop only for as long as it runs.

The dialect is the standard library's sqlite3 (SQLAlchemy's pysqlite dialect), marked async so that
`create_async_engine` takes it; its calls run synchronously inside SQLAlchemy's greenlet.
"""
from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine.url import URL
from sqlalchemy.util.concurrency import await_

DRIVER = "festflow_inline"


async def _done() -> None:
    """Awaited after each statement: the async engine insists that a statement awaited something."""


class _Cursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """The async engine calls this once a statement's result is out; rows are read as they are asked for."""


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)


class SQLiteDialect_inline(SQLiteDialect_pysqlite):
    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool if cls._is_url_file_db(url) else pool.StaticPool

    def get_driver_connection(self, connection: Any) -> Any:
        return connection

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        return sqlite3.connect(*cargs, factory=_Connection, **cparams)

    def do_execute(self, cursor: Any, statement: Any, parameters: Any, context: Any = None) -> None:
        cursor.execute(statement, parameters)
        await_(_done())

    def do_execute_no_params(self, cursor: Any, statement: Any, context: Any = None) -> None:
        cursor.execute(statement)
        await_(_done())

    def do_executemany(self, cursor: Any, statement: Any, parameters: Any, context: Any = None) -> None:
        cursor.executemany(statement, parameters)
        await_(_done())


registry.register(f"sqlite.{DRIVER}", __name__, "SQLiteDialect_inline")


def inline_url(url: str) -> str:
    """The same SQLite database, opened with the inline driver (`sqlite+aiosqlite:///x.db` -> inline)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+")[0] != "sqlite":
        raise ValueError(f"not an SQLite URL: {url!r}")
    return f"sqlite+{DRIVER}://{rest}"
