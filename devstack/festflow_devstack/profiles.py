"""Where a stack lives and which ports it uses.

Two profiles: `dev` (what `make run` starts, on the ports users expect) and `test`
(what `make test` starts: same layout on its own ports, its own data, wiped at start),
so the test suite can run while a developer's stack is up. Every port stays below Linux's ephemeral
range (32768 and up), where an outgoing connection could already hold it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_VERSION = "3.9.1"

BASE_PORTS = {
    "gateway": 3000,
    "order": 8000,
    "inventory": 8001,
    "email": 8002,
    "notify": 8003,
    "ticketing": 8004,
    "payment": 8005,
    "stripe": 8006,  # Stripe's test server, stripe-mock: only the test stack runs it
    "waiting": 8007,
    "shell": 8100,
    "catalog": 8101,
    "cart": 8102,
    "admin": 8103,
    "gate": 8104,
    "account": 8105,
    "mail_http": 8025,
    "smtp": 1025,
    "amqp": 5672,
    "rabbit_mgmt": 15672,
    "rabbit_dist": 25672,
    "kafka": 9092,
    "kafka_controller": 9093,
    "postgres": 5432,  # only the tests that run on PostgreSQL start it
}

# the test stack: 10000 above the dev ports, RabbitMQ's three one above theirs
TEST_PORTS = {name: port + 10000 for name, port in BASE_PORTS.items()} | {
    "amqp": 5673, "rabbit_mgmt": 15673, "rabbit_dist": 25673,
}
# the benchmark's stack: 20000 above the dev ports, RabbitMQ's three two above theirs
BENCH_PORTS = {name: port + 20000 for name, port in BASE_PORTS.items()} | {
    "amqp": 5674, "rabbit_mgmt": 15674, "rabbit_dist": 25674,
}
# the scale test's stack (several instances on PostgreSQL): 22000 above the dev ports, RabbitMQ's three above
SCALE_PORTS = {name: port + 22000 for name, port in BASE_PORTS.items()} | {
    "amqp": 5675, "rabbit_mgmt": 15675, "rabbit_dist": 25675,
}
EPHEMERAL_PORTS_START = 32768
INSTANCE_PORT_STEP = 20  # instance k (from 1) of a service listens on its port + 20 * (k - 1)


@dataclass(frozen=True)
class Profile:
    name: str
    run_dir: Path
    ports: dict[str, int]
    fresh: bool  # wipe data at start

    @property
    def rabbit_node(self) -> str:
        return f"festflow-{self.name}@localhost"

    def url(self, port_name: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[port_name]}{path}"

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.ports['amqp']}/"

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports['kafka']}"


def get_profile(name: str | None = None) -> Profile:
    name = name or os.environ.get("FESTFLOW_PROFILE", "dev")
    run_root = Path(os.environ.get("FESTFLOW_RUN_DIR", REPO_ROOT / ".run"))
    if name == "dev":
        return Profile("dev", run_root / "dev", dict(BASE_PORTS), fresh=False)
    if name == "test":
        return Profile("test", run_root / "test", dict(TEST_PORTS), fresh=True)
    if name == "bench":
        return Profile("bench", run_root / "bench", dict(BENCH_PORTS), fresh=True)
    if name == "scale":
        return Profile("scale", run_root / "scale", dict(SCALE_PORTS), fresh=True)
    raise ValueError(f"unknown profile {name!r} (expected dev, test, bench or scale)")


SERVICE_DATABASES = {"order-service": "orders", "inventory-service": "inventory", "ticketing-service": "ticketing",
                     "payment-service": "payments", "waiting-room": "waiting_room"}
SCALED_SERVICES = ("order-service", "inventory-service")  # the ones `instances` multiplies


@dataclass(frozen=True)
class Layout:
    """How a stack is laid out: which database its services use and how many instances of the order and
    inventory services run. Several instances need PostgreSQL (SQLite has one writer at a time).
    `database_urls` names a service's database outright (from ORDER_DATABASE_URL and the like)."""
    database: str = "sqlite"  # or "postgres": a project-local PostgreSQL server, a database per service
    instances: int = 1
    database_urls: tuple[tuple[str, str], ...] = ()
    # waiting-room instances (the gateway sends to every one): a drop's crowd of live streams outgrows one
    # process's 20,000 files (bench/waiting_room_live_bench.py); apart from `instances`, so that a scaled
    # stack starts no more processes than its test needs
    waiting_rooms: int = 1

    def __post_init__(self) -> None:
        if self.database not in ("sqlite", "postgres"):
            raise ValueError(f"FESTFLOW_DATABASE must be sqlite or postgres, not {self.database!r}")
        if not 1 <= self.instances <= 4:
            raise ValueError(f"FESTFLOW_INSTANCES must be 1 to 4, not {self.instances}")
        if not 1 <= self.waiting_rooms <= 4:
            raise ValueError(f"waiting rooms: 1 to 4, not {self.waiting_rooms}")
        if max(self.instances, self.waiting_rooms) > 1 and self.database != "postgres" and not self.database_urls:
            raise ValueError("several instances need PostgreSQL: FESTFLOW_DATABASE=postgres")

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Layout:
        env = dict(os.environ if environ is None else environ)
        try:
            instances = int(env.get("FESTFLOW_INSTANCES", "1"))
        except ValueError:
            raise ValueError(f"FESTFLOW_INSTANCES must be a number, not {env['FESTFLOW_INSTANCES']!r}") from None
        urls = tuple((service, env[var]) for service, var in
                     (("order-service", "ORDER_DATABASE_URL"), ("inventory-service", "INVENTORY_DATABASE_URL"),
                      ("ticketing-service", "TICKETING_DATABASE_URL")) if env.get(var))
        return cls(env.get("FESTFLOW_DATABASE", "sqlite"), instances, urls)

    def instance_names(self, service: str) -> list[str]:
        count = self.instances if service in SCALED_SERVICES else self.waiting_rooms if service == "waiting-room" \
            else 1
        return [service] + [f"{service}-{k}" for k in range(2, count + 1)]


def instance_port(port: int, name: str) -> int:
    """`order-service-2` listens on the order port + 20, `order-service` on the order port itself."""
    head, _, tail = name.rpartition("-")
    return port + INSTANCE_PORT_STEP * (int(tail) - 1) if tail.isdigit() and head else port
