"""A throwaway PostgreSQL cluster from Debian's package, for the tests that run on PostgreSQL.

As root the server runs as the `postgres` user (it refuses root); data lives under the run folder.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from festflow_devstack import probes
from festflow_devstack.supervisor import Component, StackError

USER = "festflow"


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise StackError("PostgreSQL is not installed: run scripts/install.sh (make install)")
    return found[-1]


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *argv]


def postgres(base: Path, port: int) -> Component:
    data = base / "data"

    def prepare() -> None:
        base.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(base, "postgres", "postgres")
        if not (data / "PG_VERSION").exists():
            done = subprocess.run(_as_postgres([_bin("initdb"), "-D", str(data), "-U", USER, "-A", "trust",
                                                "-E", "UTF8", "--no-sync"]), capture_output=True, text=True)
            if done.returncode != 0:
                raise StackError(f"initdb failed:\n{done.stdout}{done.stderr}")

    argv = _as_postgres([_bin("postgres"), "-D", str(data), "-p", str(port), "-k", str(base),
                         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"])

    def ready() -> bool:
        return probes.tcp_open(port) and subprocess.run(
            [_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", USER], capture_output=True).returncode == 0

    return Component("postgres", argv, ready, prepare=prepare, timeout=60)


def _psql(port: int, sql: str) -> str:
    """Runs one SQL statement as the cluster's user in database `postgres`; its output, unaligned."""
    return subprocess.run([_bin("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, "-d", "postgres",
                           "-v", "ON_ERROR_STOP=1", "-qtA", "-c", sql], check=True, capture_output=True,
                          text=True).stdout.strip()


def _url(port: int, name: str) -> str:
    return f"postgresql+asyncpg://{USER}@127.0.0.1:{port}/{name}"


def create_database(port: int, name: str) -> str:
    """Creates database `name` (dropping an old one) and returns its SQLAlchemy asyncpg URL."""
    _psql(port, f'DROP DATABASE IF EXISTS "{name}"')
    _psql(port, f'CREATE DATABASE "{name}"')
    return _url(port, name)


def ensure_database(port: int, name: str) -> str:
    """Creates database `name` unless it exists (a developer's data stays) and returns its URL."""
    if _psql(port, f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":
        _psql(port, f'CREATE DATABASE "{name}"')
    return _url(port, name)
