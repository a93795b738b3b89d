"""Fixtures shared by every app's tests: a real PostgreSQL server for the tests marked `postgres`."""
from __future__ import annotations

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
