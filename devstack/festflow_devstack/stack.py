"""The whole FestFlow stack for one profile: infrastructure first, then the apps, then the gateway."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from festflow_contracts.tokens import write_keypair
from festflow_devstack import apps, infra, postgres
from festflow_devstack.profiles import SERVICE_DATABASES, Layout, Profile
from festflow_devstack.supervisor import Supervisor, read_pidfile, stop_recorded


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
        try:
            infrastructure = [infra.rabbitmq(profile), infra.kafka(profile)]
            if profile.name == "test":
                infrastructure.append(infra.stripe_mock(profile))
            if layout.database == "postgres":
                infrastructure.append(postgres.postgres(profile.run_dir / "postgres", profile.ports["postgres"]))
            self.supervisor.start_stage("infrastructure", infrastructure)
            databases = {}
            if layout.database == "postgres":
                databases = {service: postgres.ensure_database(profile.ports["postgres"], name)
                             for service, name in SERVICE_DATABASES.items()}
            self.env = apps.app_environments(profile, private_key, public_key,
                                             databases | dict(layout.database_urls))
            self.supervisor.start_stage("mail", [apps.app_component(profile, "mail-sink", self.env["mail-sink"])])
            self.supervisor.start_stage(
                "apps",
                [apps.app_component(profile, name, self.env[name], instance)
                 for name in apps.APPS if name != "mail-sink" for instance in layout.instance_names(name)],
            )
            self.supervisor.start_stage("gateway", [infra.nginx(profile, layout)])
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.supervisor.stop_all()

    def urls(self) -> dict[str, str]:
        p = self.profile
        return {
            "web app": p.url("gateway", "/"),
            "order API docs": p.url("order", "/docs"),
            "RabbitMQ management (guest/guest)": p.url("rabbit_mgmt", "/"),
            "mailbox (local SMTP sink)": p.url("mail_http", "/"),
            "Kafka bootstrap": p.kafka_bootstrap,
            "logs": str(p.run_dir / "logs"),
        }


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
