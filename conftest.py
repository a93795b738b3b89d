"""Fixtures shared by every app's tests: a real PostgreSQL server for the tests marked `postgres`."""
from __future__ import annotations

import gc
import uuid

import pytest

from festflow_devstack.postgres import create_database, postgres
from festflow_devstack.profiles import get_profile
from festflow_devstack.supervisor import Supervisor


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL cluster of the test profile's own (started on first use, stopped at the end)."""
    profile = get_profile("test")
    base = profile.run_dir.parent / "test-postgres"
    supervisor = Supervisor(base, quiet=True)
    supervisor.start_stage("postgres", [postgres(base / "cluster", profile.ports["postgres"])])
    yield profile.ports["postgres"]
    supervisor.stop_all()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh database on the real server for one test."""
    return create_database(postgres_server, f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(autouse=True)
def collectable_after_each_test():
    """Every app freezes the heap when its start is done (festflow_runtime.startup_heap), for the life of its
    process. Tests start hundreds of apps in one process: what a test made is given back to the collector
    after it, so a finished test's apps do not stay in memory for the rest of the run."""
    yield
    gc.unfreeze()
