import pytest

from festflow_devstack.infra import gateway_values, render_template
from festflow_devstack.profiles import BASE_PORTS, REPO_ROOT, TEST_PORT_SHIFT, get_profile


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
    dev, test = get_profile("dev"), get_profile("test")
    assert (dev.ports["gateway"], dev.ports["order"], dev.ports["rabbit_mgmt"]) == (3000, 8000, 15672)
    assert all(test.ports[k] == v + TEST_PORT_SHIFT for k, v in BASE_PORTS.items())
    assert len(set(dev.ports.values()) | set(test.ports.values())) == 2 * len(BASE_PORTS)
    assert test.fresh and not dev.fresh
    with pytest.raises(ValueError):
        get_profile("prod")
