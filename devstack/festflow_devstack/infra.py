"""The real servers, run project-locally from Debian packages and Maven Central jars."""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from festflow_devstack import probes
from festflow_devstack.profiles import KAFKA_VERSION, REPO_ROOT, Layout, Profile, instance_port
from festflow_devstack.supervisor import Component, StackError

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"


def rabbit_node_name(profile: Profile, node: int, nodes: int = 1) -> str:
    """A lone node is `festflow-<profile>@localhost`; a cluster's are `festflow-<profile>-<k>@localhost`, so
    that a cluster's data never meets a lone node's."""
    return profile.rabbit_node if nodes == 1 else f"festflow-{profile.name}-{node}@localhost"


def rabbit_component_name(node: int, nodes: int = 1) -> str:
    return "rabbitmq" if nodes == 1 else f"rabbitmq-{node}"


def rabbitmq(profile: Profile, node: int = 1, nodes: int = 1, cookie: str | None = None) -> Component:
    """RabbitMQ node `node` of `nodes`. A cluster's nodes share the Erlang cookie `cookie` (how nodes and
    rabbitmqctl prove they belong together) and are joined by `join_rabbit_cluster` once all are up."""
    name = rabbit_component_name(node, nodes)
    base = profile.run_dir / name
    ports = profile.rabbit_ports(node)
    conf = base / "rabbitmq.conf"

    def prepare() -> None:
        (base / "home").mkdir(parents=True, exist_ok=True)
        if cookie is not None:
            write_cookie(base / "home", cookie)
        conf.write_text(
            f"listeners.tcp.default = 127.0.0.1:{ports['amqp']}\n"
            f"management.tcp.port = {ports['rabbit_mgmt']}\n"
            "management.tcp.ip = 127.0.0.1\n"
            "loopback_users.guest = true\n"
            # a cluster's node that lost its peers pauses instead of taking writes alone (split brain)
            + ("cluster_partition_handling = pause_minority\n" if nodes > 1 else "")
        )

    env = {
        "HOME": str(base / "home"),
        "RABBITMQ_NODENAME": rabbit_node_name(profile, node, nodes),
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

    return Component(name, [RABBITMQ_SERVER], ready, env=env, prepare=prepare,
                     after_stop=stop_epmd if node == 1 else None, timeout=90 if nodes == 1 else 180)


def write_cookie(home: Path, cookie: str) -> None:
    path = home / ".erlang.cookie"
    if path.exists() and path.read_text() == cookie:
        return
    path.unlink(missing_ok=True)
    path.write_text(cookie)
    path.chmod(0o400)


def rabbitmqctl(profile: Profile, node: int, nodes: int, *args: str, timeout: float = 60) -> str:
    """Runs `rabbitmqctl -n <node> <args>` as that node's own HOME (its cookie); its output."""
    name = rabbit_component_name(node, nodes)
    env = {**os.environ, "HOME": str(profile.run_dir / name / "home"), "ERL_EPMD_ADDRESS": "127.0.0.1"}
    done = subprocess.run([RABBITMQCTL, "-n", rabbit_node_name(profile, node, nodes), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise StackError(f"rabbitmqctl {' '.join(args)} on {name} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def join_rabbit_cluster(profile: Profile, nodes: int) -> None:
    """Joins nodes 2.. to node 1's cluster, unless they are in it already (a developer's cluster keeps its
    data between runs): a node leaves its own empty state behind and takes the cluster's."""
    first = rabbit_node_name(profile, 1, nodes)
    for node in range(2, nodes + 1):
        status = rabbitmqctl(profile, node, nodes, "cluster_status", "--formatter", "json")
        if first in json.loads(status).get("running_nodes", []):
            continue
        rabbitmqctl(profile, node, nodes, "stop_app")
        rabbitmqctl(profile, node, nodes, "reset")
        rabbitmqctl(profile, node, nodes, "join_cluster", first)
        rabbitmqctl(profile, node, nodes, "start_app")


def stop_epmd() -> None:
    """The Erlang port mapper outlives the RabbitMQ node; it refuses to die while other nodes live."""
    subprocess.run(["epmd", "-kill"], capture_output=True, check=False)


def kafka_libs() -> Path:
    libs = REPO_ROOT / ".cache" / f"kafka-{KAFKA_VERSION}" / "libs"
    if not libs.is_dir():
        raise RuntimeError(f"Kafka jars missing in {libs}: run scripts/install.sh (make install)")
    return libs


def kafka_component_name(node: int, nodes: int = 1) -> str:
    return "kafka" if nodes == 1 else f"kafka-{node}"


def kafka_bootstrap(profile: Profile, nodes: int = 1) -> str:
    """Every broker's address, as clients are given them (any one answering is enough to find the rest)."""
    return ",".join(f"127.0.0.1:{profile.kafka_ports(node)['kafka']}" for node in range(1, nodes + 1))


def kafka_properties(profile: Profile, data: Path, node: int = 1, nodes: int = 1) -> str:
    """The broker's server.properties. Each broker is also a KRaft controller; a cluster's topics keep
    three copies and take a write once two have it (min.insync.replicas=2, with producers' acks=all)."""
    ports = profile.kafka_ports(node)
    voters = ",".join(f"{k}@127.0.0.1:{profile.kafka_ports(k)['kafka_controller']}" for k in range(1, nodes + 1))
    copies = min(nodes, 3)
    return "\n".join([
        "process.roles=broker,controller",
        f"node.id={node}",
        f"controller.quorum.voters={voters}",
        f"listeners=PLAINTEXT://127.0.0.1:{ports['kafka']},CONTROLLER://127.0.0.1:{ports['kafka_controller']}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{ports['kafka']}",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        f"log.dirs={data}",
        "num.partitions=3",
        f"default.replication.factor={copies}",
        f"min.insync.replicas={max(1, copies - 1)}",
        f"offsets.topic.replication.factor={copies}",
        "offsets.topic.num.partitions=5",
        f"transaction.state.log.replication.factor={copies}",
        f"transaction.state.log.min.isr={max(1, copies - 1)}",
        "transaction.state.log.num.partitions=5",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=true",
        "log.retention.hours=168",
        # a broker that comes back takes its partitions' leadership back soon, not after 5 minutes
        "leader.imbalance.check.interval.seconds=30",
        "",
    ] + ([
        # a broker that dies is declared dead by the controllers after 3 s of silence instead of 9: its
        # partitions get new leaders sooner (measured: 13 s from kill -9 to new leaders with the defaults)
        "broker.session.timeout.ms=3000",
        "broker.heartbeat.interval.ms=1000",
        "",
    ] if nodes > 1 else []))


def kafka(profile: Profile, node: int = 1, nodes: int = 1, cluster_id: str | None = None) -> Component:
    """Kafka broker `node` of `nodes` (KRaft: each broker is also a controller). A cluster's brokers are
    formatted with one cluster id, `cluster_id`."""
    name = kafka_component_name(node, nodes)
    base = profile.run_dir / name
    props = base / "server.properties"
    data = base / "data"
    ports = profile.kafka_ports(node)
    java = shutil.which("java") or "java"
    log4j = REPO_ROOT / "scripts" / "kafka" / "log4j.properties"
    heap = "512m" if nodes == 1 else "384m"
    jvm = [java, f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", f"-Dlog4j.configuration=file:{log4j}",
           "-cp", f"{kafka_libs()}/*"]

    def prepare() -> None:
        base.mkdir(parents=True, exist_ok=True)
        props.write_text(kafka_properties(profile, data, node, nodes))
        if not (data / "meta.properties").exists():
            identity = cluster_id or base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
            # "=" form: a random id may start with "-", which would read as an option
            done = subprocess.run(
                [*jvm, "kafka.tools.StorageTool", "format", f"--cluster-id={identity}", "--config", str(props),
                 "--ignore-formatted"],
                capture_output=True, text=True,
            )
            if done.returncode != 0:
                raise StackError(f"formatting Kafka storage failed:\n{done.stdout}{done.stderr}")

    log_path = profile.run_dir / "logs" / f"{name}.log"

    def ready() -> bool:
        return probes.tcp_open(ports["kafka"]) and probes.log_contains(log_path, "Kafka Server started")

    return Component(name, [*jvm, "kafka.Kafka", str(props)], ready, prepare=prepare,
                     timeout=120 if nodes == 1 else 240)


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

    def servers(app: str, port_name: str) -> str:
        """Every instance of `app`, each `server ADDR max_fails=3 fail_timeout=5s;` in its upstream."""
        return " ".join(f"server 127.0.0.1:{instance_port(p[port_name], name)} max_fails=3 fail_timeout=5s;"
                        for name in layout.instance_names(app))

    return {
        "GATEWAY_PORT": str(p["gateway"]),
        # four workers: at up to 9,500 live streams each (this machine's file limit), a drop's 20,000 waiting
        # buyers fit; idle, a worker costs a few MiB and no CPU
        "GATEWAY_WORKERS": "4",
        "RUN_DIR": str(run_path),
        "ORDER_API_SERVERS": servers("order-service", "order"),
        "NOTIFY_SERVERS": servers("notification-hub", "notify"),
        "TICKETING_SERVERS": servers("ticketing-service", "ticketing"),
        "PAYMENT_SERVERS": servers("payment-service", "payment"),
        "WAITING_SERVERS": servers("waiting-room", "waiting"),
        "SHELL_SERVERS": servers("shell-app", "shell"),
        "CATALOG_SERVERS": servers("mf-catalog", "catalog"),
        "CART_SERVERS": servers("mf-cart", "cart"),
        "ADMIN_SERVERS": servers("mf-admin", "admin"),
        "GATE_SERVERS": servers("mf-gate", "gate"),
        "ACCOUNT_SERVERS": servers("mf-account", "account"),
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
