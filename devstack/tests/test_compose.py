"""docker-compose.yml cannot run here (no Docker engine); this keeps it consistent with the local run."""
import re

import pytest
import yaml

from festflow_devstack.apps import APPS, app_environments
from festflow_devstack.profiles import BASE_PORTS, REPO_ROOT, get_profile

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_DIRS = {
    "order-service": "services/order-service", "inventory-service": "services/inventory-service",
    "email-function": "services/email-function", "notification-hub": "services/notification-hub",
    "ticketing-service": "services/ticketing-service", "payment-service": "services/payment-service",
    "waiting-room": "services/waiting-room",
    "shell-app": "shell-app", "mf-catalog": "mf-catalog", "mf-cart": "mf-cart", "mf-admin": "mf-admin",
    "mf-gate": "mf-gate", "mf-account": "mf-account",
}


def test_every_app_is_built_from_its_own_dockerfile():
    for name, directory in APP_DIRS.items():
        assert SERVICES[name]["build"]["dockerfile"] == f"{directory}/Dockerfile"
        assert (REPO_ROOT / directory / "Dockerfile").is_file()


@pytest.mark.parametrize("name", sorted(APP_DIRS))
def test_apps_get_the_same_settings_as_the_local_run(name, tmp_path):
    local = app_environments(get_profile("dev"), tmp_path / "k", tmp_path / "p")[name]
    assert set(local) - {"FESTFLOW_ENV"} <= set(SERVICES[name]["environment"]), name


@pytest.mark.parametrize("name", sorted(APP_DIRS))
def test_apps_listen_where_the_local_run_and_the_gateway_expect(name):
    asgi, port_name, _ = APPS[name]
    port = BASE_PORTS[port_name]
    dockerfile = (REPO_ROOT / APP_DIRS[name] / "Dockerfile").read_text()
    assert f"EXPOSE {port}" in dockerfile and f'"{asgi}"' in dockerfile
    env = SERVICES[name]["environment"]
    assert env["APP_PORT"] == str(port)


def test_only_the_gateway_is_published_and_the_local_extras_only_on_loopback():
    published = {name: svc["ports"] for name, svc in SERVICES.items() if svc.get("ports")}
    assert published == {"gateway": ["3000:3000"]}
    local = yaml.safe_load((REPO_ROOT / "deploy" / "compose.local.yml").read_text())["services"]
    extras = [port for svc in local.values() for port in svc.get("ports", [])]
    assert sorted(extras) == ["127.0.0.1:15672:15672", "127.0.0.1:8000:8000", "127.0.0.1:8025:8025"]
    assert set(local) <= set(SERVICES)


def test_brokers_databases_and_internal_apis_are_on_the_internal_network_only():
    assert COMPOSE["networks"]["backend"]["internal"] is True
    inside = ("kafka", "postgres", "rabbitmq", "mailpit", "order-service", "inventory-service", "notification-hub",
              "waiting-room", "ticketing-service", "shell-app", *[n for n in APP_DIRS if n.startswith("mf-")])
    for name in inside:
        assert SERVICES[name]["networks"] == ["backend"], name
    # out, never in: Stripe for the payment service, the SMTP relay for the email function
    assert SERVICES["payment-service"]["networks"] == SERVICES["email-function"]["networks"] == ["backend", "egress"]
    assert SERVICES["gateway"]["networks"] == ["backend", "edge"]
    assert SERVICES["order-service"]["environment"]["INTERNAL_API_TOKEN"] == \
        SERVICES["inventory-service"]["environment"]["INTERNAL_API_TOKEN"]


def _variables(text: str) -> dict[str, str]:
    """Each ${NAME...} the file interpolates, with what follows the name (`:?message`, `:-default`)."""
    return {name: rest for name, rest in re.findall(r"\$\{([A-Z_]+)([^}]*)\}", text)}


def test_no_password_token_or_secret_has_a_default():
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    variables = _variables(text)
    for secret in ("POSTGRES_PASSWORD", "RABBITMQ_PASSWORD", "INTERNAL_API_TOKEN", "WAITING_ROOM_SECRET"):
        assert variables[secret].startswith(":?"), secret  # compose refuses to start without it
    assert "change-me" not in text and "festflow:festflow@" not in text and "guest" not in text
    example = (REPO_ROOT / "deploy" / "compose.env.example").read_text()
    assert {name for name, rest in variables.items() if rest.startswith(":?")} <= set(
        re.findall(r"^([A-Z_]+)=", example, re.M))  # the example names every secret to set
    assert SERVICES["shell-app"]["environment"]["FESTFLOW_ENV"] == "compose"  # the apps refuse defaults too
    assert _variables(yaml.dump(SERVICES["shell-app"]["environment"]))["COOKIE_SECURE"] == ":-true"


def test_gateway_gets_every_template_name():
    template = (REPO_ROOT / "gateway" / "nginx.conf.template").read_text()
    names = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", template))
    gateway_env = set(SERVICES["gateway"]["environment"])
    dockerfile_env = set(re.findall(r"([A-Z_]+)=", (REPO_ROOT / "gateway" / "Dockerfile").read_text()))
    assert names <= gateway_env | dockerfile_env


def test_dependencies_exist_and_long_running_services_have_healthchecks():
    for name, service in SERVICES.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            assert dep in SERVICES, (name, dep)
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[dep], dep
    for name in [*APP_DIRS, "rabbitmq", "kafka", "postgres", "gateway"]:
        assert "healthcheck" in SERVICES[name], name


def test_official_images_for_infrastructure():
    assert SERVICES["rabbitmq"]["image"].startswith("rabbitmq:") and "management" in SERVICES["rabbitmq"]["image"]
    assert SERVICES["kafka"]["image"] == "apache/kafka:3.9.1"
    assert SERVICES["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert SERVICES["postgres"]["image"].startswith("postgres:")


def test_the_order_and_inventory_services_run_replicas_on_postgresql():
    for name in ("order-service", "inventory-service"):
        assert SERVICES[name]["deploy"]["replicas"] >= 2
        assert SERVICES[name]["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "server order-service:8000" in SERVICES["gateway"]["environment"]["ORDER_API_SERVERS"]
