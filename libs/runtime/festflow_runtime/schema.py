"""`python -m festflow_runtime.schema <app>.db`: creates what is missing of an app's database schema (tables,
indexes) at DATABASE_URL, then ends; the Kubernetes chart's schema Job runs it with each app's image before
the app's instances take traffic (each instance would create it at start too; the Job makes it one writer)."""
from __future__ import annotations

import asyncio
import importlib
import sys

from festflow_runtime.settings import JobSettings


async def create(module_name: str, url: str) -> None:
    db = importlib.import_module(module_name)
    engine = db.make_engine(url)
    try:
        await db.create_schema(engine)
    finally:
        await engine.dispose()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].endswith(".db"):
        print("usage: python -m festflow_runtime.schema <app>.db  (with DATABASE_URL set)", file=sys.stderr)
        return 2
    url = JobSettings().database_url
    if not url:
        print("set DATABASE_URL: the database whose schema to create", file=sys.stderr)
        return 2
    asyncio.run(create(argv[1], url))
    print(f"schema of {argv[1]} ready")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
