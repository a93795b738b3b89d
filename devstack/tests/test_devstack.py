import pytest

from festflow_devstack.infra import gateway_values, render_template
from festflow_devstack.profiles import EPHEMERAL_PORTS_START, REPO_ROOT, get_profile


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
    assert "listen 3000;" in rendered


def test_profiles_keep_user_ports_and_shift_test_ports():
    dev, test, bench = get_profile("dev"), get_profile("test"), get_profile("bench")
    assert (dev.ports["gateway"], dev.ports["order"], dev.ports["rabbit_mgmt"]) == (3000, 8000, 15672)
    assert set(test.ports) == set(dev.ports) == set(bench.ports)
    every = list(dev.ports.values()) + list(test.ports.values()) + list(bench.ports.values())
    assert len(set(every)) == len(every)  # no port used twice: both stacks can run at once
    assert max(every) < EPHEMERAL_PORTS_START
    assert test.fresh and not dev.fresh
    with pytest.raises(ValueError):
        get_profile("prod")
