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
            "server 127.0.0.1:8027 max_fails=3 fail_timeout=5s; keepalive 32; }") in two  # every waiting room


def test_profiles_keep_user_ports_and_shift_test_ports():
    from festflow_devstack.profiles import INSTANCE_PORT_STEP

    dev, test, bench, scale = (get_profile(n) for n in ("dev", "test", "bench", "scale"))
    assert (dev.ports["gateway"], dev.ports["order"], dev.ports["rabbit_mgmt"]) == (3000, 8000, 15672)
    assert set(test.ports) == set(dev.ports) == set(bench.ports) == set(scale.ports)
    every = [port for p in (dev, test, bench, scale) for name, base in p.ports.items()
             for port in ([base + INSTANCE_PORT_STEP * k for k in range(4)] if name in ("order", "inventory")
                          else [base])]
    assert len(set(every)) == len(every)  # no port used twice (up to 4 instances): the stacks can run at once
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
    assert [instance_port(8000, n) for n in layout.instance_names("order-service")] == [8000, 8020]
    assert instance_port(8004, "ticketing-service") == 8004
    for bad in ({"FESTFLOW_INSTANCES": "2"}, {"FESTFLOW_DATABASE": "mysql"}, {"FESTFLOW_INSTANCES": "two"},
                {"FESTFLOW_DATABASE": "postgres", "FESTFLOW_INSTANCES": "9"}):
        with pytest.raises(ValueError):
            Layout.from_environment(bad)


def test_the_gateway_balances_over_every_order_service_instance(tmp_path):
    from festflow_devstack.profiles import Layout

    values = gateway_values(get_profile("test"), tmp_path, Layout("postgres", 2))
    assert values["ORDER_API_SERVERS"] == ("server 127.0.0.1:18000 max_fails=3 fail_timeout=5s; "
                                           "server 127.0.0.1:18020 max_fails=3 fail_timeout=5s;")
