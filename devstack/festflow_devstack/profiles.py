"""Where a stack lives and which ports it uses.

Two profiles: `dev` (what `make run` starts, on the ports users expect) and `test`
(what `make test` starts: same layout on its own ports, its own data, wiped at start),
so the test suite can run while a developer's stack is up. Every port stays below Linux's ephemeral
range (32768 and up), where an outgoing connection could already hold it.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
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
# the node-loss test's cluster: 21000 above the dev ports, RabbitMQ's three four above theirs
CLUSTER_PORTS = {name: port + 21000 for name, port in BASE_PORTS.items()} | {
    "amqp": 5676, "rabbit_mgmt": 15676, "rabbit_dist": 25676,
}
EPHEMERAL_PORTS_START = 32768
# instance k (from 1) of a service listens on its port + 200 * (k - 1): clear of every other port of the
# profile for up to 4 instances (8000-8007 -> 8200-8207 ..., 8100-8105 -> 8300-8305 ...)
INSTANCE_PORT_STEP = 200
# node k (from 1) of a clustered broker: a RabbitMQ node's three ports are 10 * (k - 1) above the first's
# (every profile's RabbitMQ ports end in their own digit), a Kafka broker's two 200 * (k - 1) above
RABBIT_NODE_STEP = 10
KAFKA_NODE_STEP = 200
CLUSTER_NODES = 3  # RabbitMQ nodes and Kafka brokers of a cluster


@dataclass(frozen=True)
class Profile:
    name: str
    run_dir: Path
    ports: dict[str, int]
    fresh: bool  # wipe data at start

    @property
    def rabbit_node(self) -> str:
        return f"festflow-{self.name}@localhost"

    def rabbit_ports(self, node: int = 1) -> dict[str, int]:
        """Node `node`'s AMQP, management and distribution ports (node 1: the profile's own)."""
        step = RABBIT_NODE_STEP * (node - 1)
        return {name: self.ports[name] + step for name in ("amqp", "rabbit_mgmt", "rabbit_dist")}

    def kafka_ports(self, node: int = 1) -> dict[str, int]:
        step = KAFKA_NODE_STEP * (node - 1)
        return {name: self.ports[name] + step for name in ("kafka", "kafka_controller")}

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
    if name == "cluster":
        return Profile("cluster", run_root / "cluster", dict(CLUSTER_PORTS), fresh=True)
    raise ValueError(f"unknown profile {name!r} (expected dev, test, bench, scale or cluster)")


SERVICE_DATABASES = {"order-service": "orders", "inventory-service": "inventory", "ticketing-service": "ticketing",
                     "payment-service": "payments", "waiting-room": "waiting_room"}
SCALED_SERVICES = ("order-service", "inventory-service")  # the ones `instances` multiplies


@dataclass(frozen=True)
class Layout:
    """How a stack is laid out: which database its services use and how many instances of the order and
    inventory services run. Several instances need PostgreSQL (SQLite has one writer at a time).
    `database_urls` names a service's database outright (from ORDER_DATABASE_URL and the like).

    `cluster` (FESTFLOW_CLUSTER=1): the brokers and the database as a deployment runs them, on this machine:
    three RabbitMQ nodes in one cluster, three Kafka brokers, a PostgreSQL primary with a streaming standby,
    and two instances of every app (the local mail sink stays one)."""
    database: str = "sqlite"  # or "postgres": a project-local PostgreSQL server, a database per service
    instances: int = 1
    database_urls: tuple[tuple[str, str], ...] = ()
    # waiting-room instances (the gateway sends to every one): a drop's crowd of live streams outgrows one
    # process's 20,000 files (bench/waiting_room_live_bench.py); apart from `instances`, so that a scaled
    # stack starts no more processes than its test needs
    waiting_rooms: int = 1
    cluster: bool = False

    def __post_init__(self) -> None:
        if self.database not in ("sqlite", "postgres"):
            raise ValueError(f"FESTFLOW_DATABASE must be sqlite or postgres, not {self.database!r}")
        if not 1 <= self.instances <= 4:
            raise ValueError(f"FESTFLOW_INSTANCES must be 1 to 4, not {self.instances}")
        if not 1 <= self.waiting_rooms <= 4:
            raise ValueError(f"waiting rooms: 1 to 4, not {self.waiting_rooms}")
        if max(self.instances, self.waiting_rooms) > 1 and self.database != "postgres" and not self.database_urls:
            raise ValueError("several instances need PostgreSQL: FESTFLOW_DATABASE=postgres")
        if self.cluster and (self.database != "postgres" or self.database_urls):
            raise ValueError("a cluster runs on its own PostgreSQL primary and standby: no FESTFLOW_DATABASE=sqlite "
                             "and no *_DATABASE_URL with FESTFLOW_CLUSTER=1")

    @classmethod
    def clustered(cls) -> Layout:
        return cls("postgres", 2, waiting_rooms=2, cluster=True)

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
        cluster = env.get("FESTFLOW_CLUSTER", "0")
        if cluster not in ("0", "1", ""):
            raise ValueError(f"FESTFLOW_CLUSTER must be 1 or 0, not {cluster!r}")
        if cluster == "1":
            if urls or env.get("FESTFLOW_DATABASE", "postgres") != "postgres" or "FESTFLOW_INSTANCES" in env:
                raise ValueError("FESTFLOW_CLUSTER=1 lays out its own database and instances: unset "
                                 "FESTFLOW_DATABASE, FESTFLOW_INSTANCES and *_DATABASE_URL")
            return cls.clustered()
        return cls(env.get("FESTFLOW_DATABASE", "sqlite"), instances, urls)

    @property
    def nodes(self) -> int:
        """RabbitMQ nodes and Kafka brokers."""
        return CLUSTER_NODES if self.cluster else 1

    def instance_names(self, service: str) -> list[str]:
        if self.cluster:
            count = 1 if service == "mail-sink" else max(self.instances, self.waiting_rooms)
        else:
            count = self.instances if service in SCALED_SERVICES else self.waiting_rooms \
                if service == "waiting-room" else 1
        return [service] + [f"{service}-{k}" for k in range(2, count + 1)]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Layout:
        fields = json.loads(text)
        fields["database_urls"] = tuple(tuple(pair) for pair in fields.get("database_urls", ()))
        return cls(**fields)


def instance_port(port: int, name: str) -> int:
    """`order-service-2` listens on the order port + 20, `order-service` on the order port itself."""
    head, _, tail = name.rpartition("-")
    return port + INSTANCE_PORT_STEP * (int(tail) - 1) if tail.isdigit() and head else port
