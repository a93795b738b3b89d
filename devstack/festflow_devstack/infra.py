"""The real servers, run project-locally from Debian packages and Maven Central jars."""
from __future__ import annotations

import base64
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from festflow_devstack import probes
from festflow_devstack.profiles import KAFKA_VERSION, REPO_ROOT, Layout, Profile, instance_port
from festflow_devstack.supervisor import Component, StackError

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def rabbitmq(profile: Profile) -> Component:
    base = profile.run_dir / "rabbitmq"
    ports = profile.ports
    conf = base / "rabbitmq.conf"

    def prepare() -> None:
        (base / "home").mkdir(parents=True, exist_ok=True)
        conf.write_text(
            f"listeners.tcp.default = 127.0.0.1:{ports['amqp']}\n"
            f"management.tcp.port = {ports['rabbit_mgmt']}\n"
            "management.tcp.ip = 127.0.0.1\n"
            "loopback_users.guest = true\n"
        )

    env = {
        "HOME": str(base / "home"),
        "RABBITMQ_NODENAME": profile.rabbit_node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(ports["amqp"]),
        "RABBITMQ_DIST_PORT": str(ports["rabbit_dist"]),
        "RABBITMQ_CONFIG_FILE": str(conf),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_ENABLED_PLUGINS": "rabbitmq_management",
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
        "RABBITMQ_LOGS": "-",
        "ERL_CRASH_DUMP": str(base / "erl_crash.dump"),  # not in the directory it was started from
        # the Erlang port mapper and the node's distribution port, which let whoever reaches them (and has
        # the cookie) run code in the node, listen on this machine's loopback only
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }

    def ready() -> bool:
        return probes.tcp_open(ports["amqp"]) and probes.http_ok(
            f"http://127.0.0.1:{ports['rabbit_mgmt']}/api/health/checks/alarms", "guest", "guest"
        )

    return Component("rabbitmq", [RABBITMQ_SERVER], ready, env=env, prepare=prepare,
                     after_stop=stop_epmd, timeout=90)


def stop_epmd() -> None:
    """The Erlang port mapper outlives the RabbitMQ node; it refuses to die while other nodes live."""
    subprocess.run(["epmd", "-kill"], capture_output=True, check=False)


def kafka_libs() -> Path:
    libs = REPO_ROOT / ".cache" / f"kafka-{KAFKA_VERSION}" / "libs"
    if not libs.is_dir():
        raise RuntimeError(f"Kafka jars missing in {libs}: run scripts/install.sh (make install)")
    return libs


def kafka(profile: Profile) -> Component:
    base = profile.run_dir / "kafka"
    props = base / "server.properties"
    data = base / "data"
    ports = profile.ports
    java = shutil.which("java") or "java"
    log4j = REPO_ROOT / "scripts" / "kafka" / "log4j.properties"
    jvm = [java, "-Xms512m", "-Xmx512m", "-XX:+UseG1GC", f"-Dlog4j.configuration=file:{log4j}",
           "-cp", f"{kafka_libs()}/*"]

    def prepare() -> None:
        base.mkdir(parents=True, exist_ok=True)
        props.write_text("\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{ports['kafka_controller']}",
            f"listeners=PLAINTEXT://127.0.0.1:{ports['kafka']},CONTROLLER://127.0.0.1:{ports['kafka_controller']}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{ports['kafka']}",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={data}",
            "num.partitions=3",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=5",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=5",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
            "log.retention.hours=168",
            "",
        ]))
        if not (data / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
            # "=" form: a random id may start with "-", which would read as an option
            done = subprocess.run(
                [*jvm, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "--config", str(props),
                 "--ignore-formatted"],
                capture_output=True, text=True,
            )
            if done.returncode != 0:
                raise StackError(f"formatting Kafka storage failed:\n{done.stdout}{done.stderr}")

    log_path = profile.run_dir / "logs" / "kafka.log"

    def ready() -> bool:
        return probes.tcp_open(ports["kafka"]) and probes.log_contains(log_path, "Kafka Server started")

    return Component("kafka", [*jvm, "kafka.Kafka", str(props)], ready, prepare=prepare, timeout=120)


STRIPE_MOCK = REPO_ROOT / ".cache" / "go-bin" / "stripe-mock"


def stripe_mock(profile: Profile) -> Component:
    """Stripe's own test server (a Go module, built by scripts/install.sh): the test stack's payment service
    talks to it as it would to Stripe. It keeps no state and sends no webhooks: the tests sign those."""
    if not STRIPE_MOCK.is_file():
        raise StackError("stripe-mock is missing: run scripts/install.sh (make test does)")
    port = profile.ports["stripe"]
    return Component("stripe-mock", [str(STRIPE_MOCK), "-http-addr", f"127.0.0.1:{port}"],
                     lambda: probes.tcp_open(port), timeout=30)


def render_template(text: str, values: dict[str, str]) -> str:
    """Replaces ${UPPER_CASE} names only, leaving nginx's own $variables alone (as envsubst with a list does)."""
    def sub(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"template needs {name}")
        return values[name]
    return re.sub(r"\$\{([A-Z][A-Z0-9_]*)\}", sub, text)


def gateway_values(profile: Profile, run_path: Path, layout: Layout | None = None) -> dict[str, str]:
    p = profile.ports
    layout = layout or Layout()
    order_servers = [f"127.0.0.1:{instance_port(p['order'], name)}" for name in layout.instance_names("order-service")]
    waiting_servers = [f"127.0.0.1:{instance_port(p['waiting'], name)}"
                       for name in layout.instance_names("waiting-room")]
    return {
        "GATEWAY_PORT": str(p["gateway"]),
        # four workers: at up to 9,500 live streams each (this machine's file limit), a drop's 20,000 waiting
        # buyers fit; idle, a worker costs a few MiB and no CPU
        "GATEWAY_WORKERS": "4",
        "RUN_DIR": str(run_path),
        # every order-service instance, each `server ADDR max_fails=3 fail_timeout=5s;` in the upstream
        "ORDER_API_SERVERS": " ".join(f"server {addr} max_fails=3 fail_timeout=5s;" for addr in order_servers),
        "NOTIFY_ADDR": f"127.0.0.1:{p['notify']}",
        "TICKETING_ADDR": f"127.0.0.1:{p['ticketing']}",
        "PAYMENT_ADDR": f"127.0.0.1:{p['payment']}",
        "WAITING_SERVERS": " ".join(f"server {addr} max_fails=3 fail_timeout=5s;" for addr in waiting_servers),
        "SHELL_ADDR": f"127.0.0.1:{p['shell']}",
        "CATALOG_ADDR": f"127.0.0.1:{p['catalog']}",
        "CART_ADDR": f"127.0.0.1:{p['cart']}",
        "ADMIN_ADDR": f"127.0.0.1:{p['admin']}",
        "GATE_ADDR": f"127.0.0.1:{p['gate']}",
        "ACCOUNT_ADDR": f"127.0.0.1:{p['account']}",
        "MAILBOX_ADDR": f"127.0.0.1:{p['mail_http']}",
        # a TLS proxy on this host may say the public side is HTTPS (geo entries: `address value;`)
        "TRUSTED_PROXY_ENTRIES": "127.0.0.1/32 1;",
    }


def nginx(profile: Profile, layout: Layout | None = None) -> Component:
    base = profile.run_dir / "nginx"
    conf = base / "nginx.conf"
    template = REPO_ROOT / "gateway" / "nginx.conf.template"

    def prepare() -> None:
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (base / "temp" / sub).mkdir(parents=True, exist_ok=True)
        conf.write_text(render_template(template.read_text(), gateway_values(profile, base, layout)))
        shutil.copy(REPO_ROOT / "gateway" / "mime.types", base / "mime.types")

    argv = ["nginx", "-p", str(base), "-c", str(conf), "-e", str(profile.run_dir / "logs" / "nginx-error.log"),
            "-g", "daemon off;"]
    return Component("gateway-nginx", argv,
                     lambda: probes.http_ok(profile.url("gateway", "/gateway/healthz")),
                     prepare=prepare, timeout=30)
