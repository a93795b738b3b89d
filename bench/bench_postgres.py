"""The benches' own PostgreSQL server (the bench profile's cluster and port), started for one bench and
stopped after it: `with bench_postgres() as port: ...`."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from festflow_devstack.postgres import postgres
from festflow_devstack.profiles import get_profile
from festflow_devstack.supervisor import Supervisor


@contextmanager
def bench_postgres() -> Iterator[int]:
    profile = get_profile("bench")
    base = profile.run_dir.parent / "bench-postgres"
    supervisor = Supervisor(base, quiet=True)
    supervisor.start_stage("postgres", [postgres(base / "cluster", profile.ports["postgres"])])
    try:
        yield profile.ports["postgres"]
    finally:
        supervisor.stop_all()
