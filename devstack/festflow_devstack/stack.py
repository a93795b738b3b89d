"""The whole FestFlow stack for one profile: infrastructure first, then the apps, then the gateway."""
from __future__ import annotations

import base64
import os
import shutil
import uuid
from pathlib import Path

from festflow_contracts.tokens import write_keypair
from festflow_devstack import apps, infra, postgres
from festflow_devstack.profiles import SERVICE_DATABASES, Layout, Profile
from festflow_devstack.supervisor import Component, Supervisor, read_pidfile, stop_recorded


class Stack:
    def __init__(self, profile: Profile, quiet: bool = False, layout: Layout | None = None):
        self.profile = profile
        self.layout = layout or Layout()
        self.supervisor = Supervisor(profile.run_dir, quiet=quiet)
        self.env: dict[str, dict[str, str]] = {}

    def start(self) -> None:
        profile = self.profile
        stop_recorded(profile.run_dir)  # leftovers of a stack that was not stopped cleanly
        if profile.fresh and profile.run_dir.exists():
            shutil.rmtree(profile.run_dir)
        profile.run_dir.mkdir(parents=True, exist_ok=True)
        private_key, public_key = write_keypair(profile.run_dir / "keys")
        layout = self.layout
        (profile.run_dir / LAYOUT_FILE).write_text(layout.to_json())  # what `make status` reads
        try:
            self.supervisor.start_stage("infrastructure", self.infrastructure(private_key.parent))
            if layout.nodes > 1:
                infra.join_rabbit_cluster(profile, layout.nodes)
            databases = {}
            primary_port = profile.ports["postgres"]
            if layout.cluster:
                postgres.release_standby(primary_port)
            if layout.database == "postgres":
                databases = {service: postgres.ensure_database(primary_port, name)
                             for service, name in SERVICE_DATABASES.items()}
            if layout.cluster:
                self.supervisor.start_stage("standby", [postgres.standby(
                    profile.run_dir / "postgres-2", postgres_ports(profile)[1], primary_port)])
                postgres.require_standby(primary_port)
                databases = {service: postgres.cluster_url(postgres_ports(profile), name)
                             for service, name in SERVICE_DATABASES.items()}
            self.env = apps.app_environments(profile, private_key, public_key,
                                             databases | dict(layout.database_urls), layout)
            self.supervisor.start_stage("mail", [apps.app_component(profile, "mail-sink", self.env["mail-sink"])])
            # a cluster's two dozen apps start on the machine's cores together: each may take a while
            timeout = 240 if layout.cluster else 60
            for stage, names in (("services", [n for n in apps.APPS if n not in apps.FRONTENDS and n != "mail-sink"]),
                                 ("frontends", list(apps.FRONTENDS))):
                self.supervisor.start_stage(stage, [apps.app_component(profile, name, self.env[name], instance, timeout)
                                                    for name in names for instance in layout.instance_names(name)])
            self.supervisor.start_stage("gateway", [infra.nginx(profile, layout)])
        except BaseException:
            self.stop()
            raise

    def infrastructure(self, keys_dir: Path) -> list[Component]:
        """The brokers (one of each, or a cluster's nodes), Stripe's test server for the tests, and the
        database server when the layout uses PostgreSQL (a cluster's primary; its standby comes after)."""
        profile, layout = self.profile, self.layout
        nodes = layout.nodes
        cookie = apps.stack_secret(keys_dir, "erlang-cookie") if nodes > 1 else None
        cluster_id = kafka_cluster_id(keys_dir) if nodes > 1 else None
        parts = [infra.rabbitmq(profile, node, nodes, cookie) for node in range(1, nodes + 1)]
        parts += [infra.kafka(profile, node, nodes, cluster_id) for node in range(1, nodes + 1)]
        if profile.name == "test":
            parts.append(infra.stripe_mock(profile))
        if layout.cluster:
            parts.append(postgres.postgres(profile.run_dir / "postgres-1", profile.ports["postgres"], "postgres-1",
                                           primary=True))
        elif layout.database == "postgres":
            parts.append(postgres.postgres(profile.run_dir / "postgres", profile.ports["postgres"]))
        return parts

    def stop(self) -> None:
        self.supervisor.stop_all()

    def urls(self) -> dict[str, str]:
        p = self.profile
        return {
            "web app": p.url("gateway", "/"),
            "order API docs": p.url("order", "/docs"),
            "RabbitMQ management (guest/guest)": p.url("rabbit_mgmt", "/"),
            "mailbox (local SMTP sink)": p.url("mail_http", "/"),
            "Kafka bootstrap": infra.kafka_bootstrap(p, self.layout.nodes),
            "logs": str(p.run_dir / "logs"),
        }


LAYOUT_FILE = "layout.json"


def postgres_ports(profile: Profile) -> list[int]:
    """A cluster's PostgreSQL servers: the first primary, the second its standby (until promoted)."""
    return [profile.ports["postgres"], profile.ports["postgres"] + 1]


def kafka_cluster_id(keys_dir: Path) -> str:
    """The id every broker of the stack's Kafka cluster is formatted with, made once."""
    path = keys_dir / "kafka-cluster-id"
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode())
    return path.read_text().strip()


def recorded_layout(profile: Profile) -> Layout:
    """The layout the profile's stack was last started with (a lone node of each if none was recorded)."""
    try:
        return Layout.from_json((profile.run_dir / LAYOUT_FILE).read_text())
    except (OSError, ValueError, TypeError):
        return Layout()


def pid_path(profile: Profile):
    return profile.run_dir / "devstack.pid"


def running_pid(profile: Profile) -> int | None:
    """The pid of a `run` of this profile that is still alive, if there is one."""
    try:
        pid = int(pid_path(profile).read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    try:  # a recycled pid is not a run
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return pid
    return pid if b"festflow_devstack" in cmdline else None


def write_own_pid(profile: Profile) -> None:
    profile.run_dir.mkdir(parents=True, exist_ok=True)
    pid_path(profile).write_text(str(os.getpid()))


def recorded_pids(profile: Profile) -> dict[str, int]:
    """Each running part of a stack started elsewhere (`make run`), by name: the pid its runner started."""
    found = {}
    for pidfile in sorted((profile.run_dir / "pids").glob("*.pid")):
        pid = read_pidfile(pidfile)
        if pid is not None:
            found[pidfile.stem] = pid
    return found
