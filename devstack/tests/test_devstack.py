import pytest

from festflow_devstack.infra import gateway_values, render_template
from festflow_devstack.profiles import EPHEMERAL_PORTS_START, REPO_ROOT, Layout, get_profile


def test_template_substitutes_only_capitalised_names():
    text = "listen ${GATEWAY_PORT}; proxy_set_header Host $http_host; map $http_upgrade $x {}"
    assert render_template(text, {"GATEWAY_PORT": "3000"}) == (
        "listen 3000; proxy_set_header Host $http_host; map $http_upgrade $x {}")


def test_template_refuses_unknown_names():
    with pytest.raises(KeyError, match="MISSING"):
        render_template("${MISSING}", {})


def test_gateway_template_renders_with_every_name_it_uses(tmp_path):
    profile = get_profile("dev")
    text = (REPO_ROOT / "gateway" / "nginx.conf.template").read_text()
    rendered = render_template(text, gateway_values(profile, tmp_path))
    assert "${" not in rendered
    assert "listen 3000 reuseport;" in rendered and "worker_processes 4;" in rendered
    two = render_template(text, gateway_values(profile, tmp_path, Layout("postgres", waiting_rooms=2)))
    assert ("upstream waiting_room { server 127.0.0.1:8007 max_fails=3 fail_timeout=5s; "
            "server 127.0.0.1:8207 max_fails=3 fail_timeout=5s; keepalive 32; }") in two  # every waiting room


def test_profiles_keep_user_ports_and_shift_test_ports():
    from festflow_devstack.profiles import CLUSTER_NODES, INSTANCE_PORT_STEP

    profiles = [get_profile(n) for n in ("dev", "test", "bench", "scale", "cluster")]
    dev, test = profiles[0], profiles[1]
    assert (dev.ports["gateway"], dev.ports["order"], dev.ports["rabbit_mgmt"]) == (3000, 8000, 15672)
    assert all(set(p.ports) == set(dev.ports) for p in profiles)
    every = []
    for p in profiles:
        node_ports = {port for node in range(2, CLUSTER_NODES + 1)
                      for port in [*p.rabbit_ports(node).values(), *p.kafka_ports(node).values()]}
        every += sorted(node_ports) + [p.ports["postgres"] + 1]  # a cluster's standby
        for name, base in p.ports.items():
            # up to 4 instances of every app (a cluster runs two of each)
            every += [base + INSTANCE_PORT_STEP * k for k in range(4)] if name not in (
                "amqp", "rabbit_mgmt", "rabbit_dist", "kafka", "kafka_controller", "postgres", "smtp", "stripe") \
                else [base]
    assert len(set(every)) == len(every)  # no port used twice: the stacks can run at once
    assert max(every) < EPHEMERAL_PORTS_START
    assert test.fresh and not dev.fresh
    with pytest.raises(ValueError):
        get_profile("prod")


def test_a_second_run_of_a_profile_is_refused_while_the_first_lives(tmp_path, monkeypatch, capsys):
    """Two runs of one profile would each heal what the other stops (and `make stop` ends only one)."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from festflow_devstack import cli
    from festflow_devstack.profiles import get_profile
    from festflow_devstack.stack import pid_path, running_pid
    monkeypatch.setenv("FESTFLOW_RUN_DIR", str(tmp_path))
    profile = get_profile("dev")
    assert running_pid(profile) is None
    first = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "festflow_devstack"])
    deadline = time.monotonic() + 10
    while b"festflow_devstack" not in Path(f"/proc/{first.pid}/cmdline").read_bytes():  # until it has exec'd
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        pid_path(profile).parent.mkdir(parents=True, exist_ok=True)
        pid_path(profile).write_text(str(first.pid))
        assert running_pid(profile) == first.pid
        assert cli.cmd_run(profile) == 1
        assert f"already running (pid {first.pid})" in capsys.readouterr().err
        assert pid_path(profile).read_text() == str(first.pid)  # the first run's pid file is kept
    finally:
        first.kill()
        first.wait()
    assert running_pid(profile) is None  # a dead run is no obstacle
    pid_path(profile).write_text(str(os.getpid()))  # a live process that is not a run: none either
    assert running_pid(profile) is None


def test_the_layout_comes_from_the_environment_and_refuses_instances_on_sqlite():
    from festflow_devstack.profiles import Layout, instance_port

    assert Layout.from_environment({}) == Layout("sqlite", 1, ())
    layout = Layout.from_environment({"FESTFLOW_DATABASE": "postgres", "FESTFLOW_INSTANCES": "2",
                                      "TICKETING_DATABASE_URL": "postgresql+asyncpg://x@h/t"})
    assert layout.instance_names("order-service") == ["order-service", "order-service-2"]
    assert layout.instance_names("ticketing-service") == ["ticketing-service"]
    assert dict(layout.database_urls) == {"ticketing-service": "postgresql+asyncpg://x@h/t"}
    assert [instance_port(8000, n) for n in layout.instance_names("order-service")] == [8000, 8200]
    assert instance_port(8004, "ticketing-service") == 8004
    for bad in ({"FESTFLOW_INSTANCES": "2"}, {"FESTFLOW_DATABASE": "mysql"}, {"FESTFLOW_INSTANCES": "two"},
                {"FESTFLOW_DATABASE": "postgres", "FESTFLOW_INSTANCES": "9"}):
        with pytest.raises(ValueError):
            Layout.from_environment(bad)


def test_the_gateway_balances_over_every_order_service_instance(tmp_path):
    from festflow_devstack.profiles import Layout

    values = gateway_values(get_profile("test"), tmp_path, Layout("postgres", 2))
    assert values["ORDER_API_SERVERS"] == ("server 127.0.0.1:18000 max_fails=3 fail_timeout=5s; "
                                           "server 127.0.0.1:18200 max_fails=3 fail_timeout=5s;")
    assert values["SHELL_SERVERS"] == "server 127.0.0.1:18100 max_fails=3 fail_timeout=5s;"  # one shell


def test_festflow_cluster_lays_out_three_nodes_of_each_broker_a_standby_and_two_of_every_app():
    from festflow_devstack.profiles import Layout

    layout = Layout.from_environment({"FESTFLOW_CLUSTER": "1"})
    assert layout == Layout.clustered() and layout.cluster and layout.nodes == 3 and layout.database == "postgres"
    for app in ("order-service", "notification-hub", "mf-cart", "waiting-room", "email-function"):
        assert layout.instance_names(app) == [app, f"{app}-2"]
    assert layout.instance_names("mail-sink") == ["mail-sink"]  # the local SMTP sink stays one
    assert Layout.from_environment({"FESTFLOW_CLUSTER": "0"}) == Layout()
    assert Layout.from_json(layout.to_json()) == layout  # what `make status` reads back
    scaled = Layout("postgres", 2, (("ticketing-service", "postgresql+asyncpg://x@h/t"),))
    assert Layout.from_json(scaled.to_json()) == scaled
    for bad in ({"FESTFLOW_CLUSTER": "yes"}, {"FESTFLOW_CLUSTER": "1", "FESTFLOW_DATABASE": "sqlite"},
                {"FESTFLOW_CLUSTER": "1", "FESTFLOW_INSTANCES": "3"},
                {"FESTFLOW_CLUSTER": "1", "ORDER_DATABASE_URL": "postgresql+asyncpg://x@h/o"}):
        with pytest.raises(ValueError):
            Layout.from_environment(bad)


def test_a_clusters_gateway_sends_to_both_instances_of_every_app(tmp_path):
    from festflow_devstack.profiles import Layout

    values = gateway_values(get_profile("cluster"), tmp_path, Layout.clustered())
    for name in ("ORDER_API_SERVERS", "NOTIFY_SERVERS", "TICKETING_SERVERS", "PAYMENT_SERVERS", "WAITING_SERVERS",
                 "SHELL_SERVERS", "CATALOG_SERVERS", "CART_SERVERS", "ADMIN_SERVERS", "GATE_SERVERS",
                 "ACCOUNT_SERVERS"):
        assert values[name].count("server 127.0.0.1:") == 2, name
    rendered = render_template((REPO_ROOT / "gateway" / "nginx.conf.template").read_text(), values)
    assert ("upstream mf_cart    { server 127.0.0.1:29102 max_fails=3 fail_timeout=5s; "
            "server 127.0.0.1:29302 max_fails=3 fail_timeout=5s; keepalive 16; }") in rendered


def test_a_clusters_apps_know_every_broker_node_and_find_the_database_that_takes_writes(tmp_path):
    from festflow_devstack import apps, postgres
    from festflow_devstack.profiles import Layout

    profile = get_profile("cluster")
    url = postgres.cluster_url([26432, 26433], "orders")
    assert url == ("postgresql+asyncpg://festflow@/orders?host=127.0.0.1:26432&host=127.0.0.1:26433"
                   "&target_session_attrs=read-write")
    env = apps.app_environments(profile, tmp_path / "private.pem", tmp_path / "public.pem",
                                {"order-service": url}, Layout.clustered())
    order = env["order-service"]
    assert order["AMQP_URL"] == ("amqp://guest:guest@127.0.0.1:5676/,amqp://guest:guest@127.0.0.1:5686/,"
                                 "amqp://guest:guest@127.0.0.1:5696/")
    assert order["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:30092,127.0.0.1:30292,127.0.0.1:30492"
    assert order["DATABASE_URL"] == url and env["inventory-service"]["AMQP_URL"] == order["AMQP_URL"]
    lone = apps.app_environments(get_profile("test"), tmp_path / "private.pem", tmp_path / "public.pem")
    assert lone["order-service"]["AMQP_URL"] == "amqp://guest:guest@127.0.0.1:5673/"


def test_a_clusters_kafka_brokers_vote_together_and_keep_three_copies(tmp_path):
    from festflow_devstack.infra import kafka_properties

    profile = get_profile("cluster")
    second = dict(line.split("=", 1) for line in kafka_properties(profile, tmp_path, 2, 3).splitlines() if line)
    assert second["node.id"] == "2"
    assert second["controller.quorum.voters"] == "1@127.0.0.1:30093,2@127.0.0.1:30293,3@127.0.0.1:30493"
    assert second["listeners"] == "PLAINTEXT://127.0.0.1:30292,CONTROLLER://127.0.0.1:30293"
    assert (second["default.replication.factor"], second["min.insync.replicas"],
            second["offsets.topic.replication.factor"]) == ("3", "2", "3")
    lone = dict(line.split("=", 1) for line in kafka_properties(profile, tmp_path).splitlines() if line)
    assert (lone["controller.quorum.voters"], lone["default.replication.factor"], lone["min.insync.replicas"]) == (
        "1@127.0.0.1:30093", "1", "1")


def test_status_counts_a_standby_as_healthy_and_a_down_node_not():
    from festflow_devstack.status import healthy

    assert healthy("up") and healthy("up, leads the order commands") and healthy("primary") and healthy("standby")
    assert not healthy("DOWN") and not healthy("down")


def test_the_gateways_answer_for_an_api_that_did_not_answer_claims_nothing_about_orders(tmp_path):
    """Every API route (the waiting room's join, a login, a ticket) falls back to the same 503 when its service
    does not answer in time: it must be true for each, not speak of an order that may have been placed."""
    rendered = render_template((REPO_ROOT / "gateway" / "nginx.conf.template").read_text(),
                               gateway_values(get_profile("dev"), tmp_path))
    block = rendered.split("location @api_no_answer {", 1)[1].split("}", 1)[0]
    assert "return 503" in block and "did not answer in time" in block
    assert "order service" not in block and "an order may" not in block
    for route in ("location /api/queue {", "location /api/admin/waiting-room {", "location /api/ {"):
        assert "error_page 502 504 = @api_no_answer;" in rendered.split(route, 1)[1].split("}", 1)[0]
