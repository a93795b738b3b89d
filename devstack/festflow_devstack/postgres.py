"""A throwaway PostgreSQL cluster from Debian's package, for the tests that run on PostgreSQL.

As root the server runs as the `postgres` user (it refuses root); data lives under the run folder.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from collections.abc import Callable
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


def _server_argv(data: Path, base: Path, port: int, *settings: str) -> list[str]:
    flags = [arg for setting in ("listen_addresses=127.0.0.1", "fsync=off", "max_connections=200", *settings)
             for arg in ("-c", setting)]
    return _as_postgres([_bin("postgres"), "-D", str(data), "-p", str(port), "-k", str(base), *flags])


def _ready(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        return probes.tcp_open(port) and subprocess.run(
            [_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", USER],
            capture_output=True).returncode == 0
    return ready


def _own(base: Path) -> None:
    base.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")


# a primary with a standby: the standby is fed through a replication slot, so the primary keeps every WAL
# segment it has not yet received; once it streams, `require_standby` makes every commit wait for it
STANDBY_SLOT = "festflow_standby"
PRIMARY_SETTINGS = ("wal_level=replica", "max_wal_senders=5", "max_replication_slots=5")


def postgres(base: Path, port: int, name: str = "postgres", primary: bool = False) -> Component:
    """A PostgreSQL server; `primary`: one that a streaming standby follows (see PRIMARY_SETTINGS)."""
    data = base / "data"

    def prepare() -> None:
        _own(base)
        if not (data / "PG_VERSION").exists():
            done = subprocess.run(_as_postgres([_bin("initdb"), "-D", str(data), "-U", USER, "-A", "trust",
                                                "-E", "UTF8", "--no-sync"]), capture_output=True, text=True)
            if done.returncode != 0:
                raise StackError(f"initdb failed:\n{done.stdout}{done.stderr}")

    settings = PRIMARY_SETTINGS if primary else ()
    return Component(name, _server_argv(data, base, port, *settings), _ready(port), prepare=prepare, timeout=60)


def standby(base: Path, port: int, primary_port: int, name: str = "postgres-2") -> Component:
    """A streaming standby of the server on `primary_port`: a physical copy taken with pg_basebackup (which
    also writes standby.signal and the connection to the primary), then fed the primary's WAL as it is
    written. `promote` makes it the primary. It runs with no synchronous standby of its own: once promoted
    it commits alone, until a new standby is made."""
    data = base / "data"

    def prepare() -> None:
        _own(base)
        if (data / "PG_VERSION").exists():
            return
        _psql(primary_port, f"SELECT pg_create_physical_replication_slot('{STANDBY_SLOT}') WHERE NOT EXISTS "
                            f"(SELECT 1 FROM pg_replication_slots WHERE slot_name = '{STANDBY_SLOT}')")
        done = subprocess.run(_as_postgres([
            _bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary_port), "-U", USER, "-D", str(data),
            "-R", "-X", "stream", "-S", STANDBY_SLOT, "--no-sync", "-c", "fast"]), capture_output=True, text=True)
        if done.returncode != 0:
            raise StackError(f"pg_basebackup failed:\n{done.stdout}{done.stderr}")

    def ready() -> bool:  # up, and streaming from the primary
        return _ready(port)() and _psql(primary_port, "SELECT count(*) FROM pg_stat_replication "
                                                       "WHERE state = 'streaming'") != "0"

    return Component(name, _server_argv(data, base, port, "hot_standby=on"), ready, prepare=prepare, timeout=120)


def require_standby(primary_port: int) -> None:
    """From now on a commit on the primary returns once the standby has it too (synchronous replication):
    an order answered 202 survives losing the primary. Set after the standby streams (set before, the
    databases' creation would wait for a standby that is not there yet); kept in the primary's
    postgresql.auto.conf, which the standby's copy (taken before) does not hold, so a promoted standby
    commits alone."""
    _psql(primary_port, "ALTER SYSTEM SET synchronous_standby_names = '*'")
    _psql(primary_port, "SELECT pg_reload_conf()")
    deadline = time.monotonic() + 30
    while _psql(primary_port, "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") == "0":
        if time.monotonic() > deadline:
            raise StackError("the PostgreSQL standby did not become synchronous within 30 s")
        time.sleep(0.2)


def release_standby(primary_port: int) -> None:
    """Commits stop waiting for a standby (until `require_standby`): a stack starting again creates what
    is missing on its primary before its standby is back."""
    _psql(primary_port, "ALTER SYSTEM RESET synchronous_standby_names")
    _psql(primary_port, "SELECT pg_reload_conf()")


def promote(port: int) -> None:
    """Makes the standby on `port` the primary (and waits until it takes writes)."""
    _psql(port, "SELECT pg_promote(true, 60)")


def role(port: int) -> str:
    """"primary", "standby", or "down"."""
    try:
        in_recovery = _psql(port, "SELECT pg_is_in_recovery()", timeout=5)
    except (subprocess.SubprocessError, OSError):
        return "down"
    return "standby" if in_recovery == "t" else "primary"


def cluster_url(ports: list[int], name: str) -> str:
    """A URL that reaches whichever of the servers takes writes: asyncpg tries the hosts in turn and keeps
    the first that is not in recovery (target_session_attrs=read-write), so after a standby is promoted the
    apps' new connections find it by themselves."""
    hosts = "&".join(f"host=127.0.0.1:{port}" for port in ports)
    return f"postgresql+asyncpg://{USER}@/{name}?{hosts}&target_session_attrs=read-write"


def _psql(port: int, sql: str, timeout: float = 60) -> str:
    """Runs one SQL statement as the cluster's user in database `postgres`; its output, unaligned."""
    return subprocess.run([_bin("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, "-d", "postgres",
                           "-v", "ON_ERROR_STOP=1", "-qtA", "-c", sql], check=True, capture_output=True,
                          text=True, timeout=timeout).stdout.strip()


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
