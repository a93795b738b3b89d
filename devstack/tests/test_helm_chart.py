"""The Kubernetes chart (deploy/helm/festflow), rendered by the real helm for the default values and the
production values file, linted, and checked: every core resource against Kubernetes' own schemas in strict
mode (kubernetes-validate), and what schemas cannot see: each probe on a port of its container, each Secret
a pod refers to rendered or provided, each Service and PodDisruptionBudget selecting pods, each app with the
settings the local run gives it and a NetworkPolicy of its own. A deliberately broken value fails it."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from festflow_devstack.apps import APPS, app_environments
from festflow_devstack.profiles import BASE_PORTS, REPO_ROOT, get_profile

pytestmark = pytest.mark.stack  # the helm that scripts/install.sh builds (make test; not make unit)

HELM = REPO_ROOT / ".cache" / "go-bin" / "helm"
CHART = REPO_ROOT / "deploy" / "helm" / "festflow"
PRODUCTION = CHART / "values-production.yaml"
# the operators' resources (infrastructure: operator): no Kubernetes schema of their own to check them with
CUSTOM_KINDS = {("rabbitmq.com/v1beta1", "RabbitmqCluster"), ("kafka.strimzi.io/v1beta2", "Kafka"),
                ("kafka.strimzi.io/v1beta2", "KafkaNodePool"), ("postgresql.cnpg.io/v1", "Cluster")}
# what the keys Job puts in the keys Secret; what the operators put in theirs
KEYS = {"jwt-private.pem", "jwt-public.pem", "ticket-signing.pem"}
OPERATOR_SECRETS = {"rabbitmq-default-user": {"username", "password"}, "postgres-app": {"username", "password"}}
PLATFORM_SECRET_KEYS = {"postgres-password", "rabbitmq-password", "rabbitmq-erlang-cookie", "internal-api-token",
                        "waiting-room-secret"}
STRIPE_KEYS = {"stripe-secret-key", "stripe-webhook-secret", "stripe-publishable-key"}


def helm(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    assert HELM.is_file(), "helm is missing: run scripts/install.sh (make test does)"
    env = {**os.environ, "HELM_CACHE_HOME": str(tmp / "cache"), "HELM_CONFIG_HOME": str(tmp / "config"),
           "HELM_DATA_HOME": str(tmp / "data")}
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, env=env, timeout=120)


def values_of(*files: Path, sets: tuple[str, ...] = ()) -> dict:
    """The values a render used, as far as the checks need them (the files, then `--set a.b=c`)."""
    merged: dict = {}
    for path in (CHART / "values.yaml", *files):
        merge(merged, yaml.safe_load(path.read_text()))
    for assignment in sets:
        path, _, value = assignment.partition("=")
        node = merged
        *parents, leaf = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return merged


def merge(into: dict, more: dict) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


def render(tmp: Path, *files: Path, sets: tuple[str, ...] = ()) -> list[dict]:
    args = ["template", "festflow", str(CHART), "--namespace", "festflow"]
    for path in files:
        args += ["-f", str(path)]
    for assignment in sets:
        args += ["--set", assignment]
    done = helm(tmp, *args)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def pod_specs(docs: list[dict]):
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield doc, doc["spec"]["template"]["spec"]


def problems(docs: list[dict], values: dict) -> list[str]:
    """Everything wrong with a render; [] when nothing is."""
    found: list[str] = []
    version = latest_version()
    for doc in docs:
        name = f"{doc['kind']} {doc['metadata']['name']}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            if (doc["apiVersion"], doc["kind"]) not in CUSTOM_KINDS:
                found.append(f"{name}: no Kubernetes schema for {doc['apiVersion']}")
        except kubernetes_validate.ValidationError as invalid:
            found.append(f"{name}: {invalid.message} at {'.'.join(map(str, invalid.path))}")
    # the Secrets pods may refer to, with their keys
    secrets: dict[str, set[str] | None] = {
        doc["metadata"]["name"]: set(doc.get("data") or {}) | set(doc.get("stringData") or {})
        for doc in docs if doc["kind"] == "Secret"}
    secrets[values["keysSecret"]] = KEYS
    if values["secrets"]["existingSecret"]:
        secrets[values["secrets"]["existingSecret"]] = PLATFORM_SECRET_KEYS
    if values["stripe"]["existingSecret"]:
        secrets[values["stripe"]["existingSecret"]] = STRIPE_KEYS
    if values["infrastructure"] == "operator":
        secrets |= OPERATOR_SECRETS
    for doc, spec in pod_specs(docs):
        name = f"{doc['kind']} {doc['metadata']['name']}"
        for container in spec.get("initContainers", []) + spec["containers"]:
            ports = {p.get("name") for p in container.get("ports", [])} | {
                p["containerPort"] for p in container.get("ports", [])}
            for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
                probe = container.get(kind) or {}
                action = probe.get("httpGet") or probe.get("tcpSocket")
                if action and action["port"] not in ports:
                    found.append(f"{name}: the {kind} asks port {action['port']!r}, which the container does not "
                                 f"open ({sorted(map(str, ports))})")
            for env in container.get("env", []):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref and not ref.get("optional"):
                    known = secrets.get(ref["name"])
                    if known is None:
                        found.append(f"{name}: {env['name']} from the Secret {ref['name']!r}, which is neither "
                                     "rendered nor provided")
                    elif ref["key"] not in known:
                        found.append(f"{name}: {env['name']} from {ref['name']}/{ref['key']}, a key it lacks")
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                wanted = volume["secret"].get("secretName", "")
                known = secrets.get(wanted)
                if known is None:
                    found.append(f"{name}: the volume {volume['name']} mounts the Secret {wanted!r}, which is "
                                 "neither rendered nor provided")
                else:
                    found += [f"{name}: the volume {volume['name']} wants {wanted}/{item['key']}, a key it lacks"
                              for item in volume["secret"].get("items", []) if item["key"] not in known]
    # Services, PodDisruptionBudgets and autoscalers find what they are for
    labels = [doc["spec"]["template"]["metadata"]["labels"] for doc, _ in pod_specs(docs)]
    ports_of = {doc["metadata"]["name"]: {p.get("name") for c in spec["containers"] for p in c.get("ports", [])}
                for doc, spec in pod_specs(docs)}
    for doc in docs:
        selector = None
        if doc["kind"] == "Service":
            selector = doc["spec"]["selector"]
            target = doc["metadata"]["name"].removesuffix("-headless")
            for port in doc["spec"]["ports"]:
                if isinstance(port.get("targetPort"), str) and port["targetPort"] not in ports_of.get(target, set()):
                    found.append(f"Service {doc['metadata']['name']}: targetPort {port['targetPort']} is not a port "
                                 f"of {target}")
        elif doc["kind"] == "PodDisruptionBudget":
            selector = doc["spec"]["selector"]["matchLabels"]
        elif doc["kind"] == "HorizontalPodAutoscaler":
            target = doc["spec"]["scaleTargetRef"]["name"]
            if target not in {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"}:
                found.append(f"HorizontalPodAutoscaler {doc['metadata']['name']}: no Deployment {target}")
        if selector is not None and not any(selector.items() <= pod.items() for pod in labels):
            found.append(f"{doc['kind']} {doc['metadata']['name']}: its selector {selector} selects no pod")
    return found


def _lint(tmp: Path, *files: Path) -> None:
    args = ["lint", "--strict", str(CHART)] + [arg for path in files for arg in ("-f", str(path))]
    linted = helm(tmp, *args)
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.parametrize("files", [(), (PRODUCTION,)], ids=["default values", "production values"])
def test_the_chart_lints_renders_and_every_resource_checks_out(tmp_path, files):
    _lint(tmp_path, *files)
    docs = render(tmp_path, *files)
    assert problems(docs, values_of(*files)) == []
    kinds = {doc["kind"] for doc in docs}
    assert {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy",
            "Job"} <= kinds
    deployments = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "Deployment"}
    assert set(deployments) == {*values_of(*files)["apps"], "gateway"}
    for name, deployment in deployments.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"] and container["livenessProbe"] and container["resources"]["requests"], name
    autoscaled = {doc["spec"]["scaleTargetRef"]["name"] for doc in docs if doc["kind"] == "HorizontalPodAutoscaler"}
    assert {"order-service", "waiting-room", "gateway", "mf-cart"} <= autoscaled


def test_the_chart_has_its_own_brokers_or_the_operators(tmp_path):
    own = {(doc["kind"], doc["metadata"]["name"]) for doc in render(tmp_path)}
    assert {("StatefulSet", "rabbitmq"), ("StatefulSet", "kafka"), ("StatefulSet", "postgres")} <= own
    operated = render(tmp_path, PRODUCTION)
    assert {(doc["apiVersion"], doc["kind"]) for doc in operated} >= CUSTOM_KINDS
    assert not any(doc["kind"] == "StatefulSet" for doc in operated)
    cluster = next(doc for doc in operated if doc["kind"] == "Cluster")
    assert cluster["spec"]["instances"] >= 2  # a streaming standby to promote
    kafka = next(doc for doc in operated if doc["kind"] == "Kafka")["spec"]["kafka"]["config"]
    assert kafka["default.replication.factor"] == 3 and kafka["min.insync.replicas"] == 2


@pytest.mark.parametrize(("broken", "complaint"), [
    ("apps.order-service.probe.port=9000", "asks port 9000, which the container does not open"),
    ("keysSecret=", "mounts the Secret None, which is neither rendered nor provided"),
    ("apps.waiting-room.port=eighty", "Deployment waiting-room"),
    ("stripe.existingSecret=festflow-stripe", None),  # a Secret the platform provides: fine
])
def test_a_deliberately_broken_value_fails_the_check(tmp_path, broken, complaint):
    found = problems(render(tmp_path, sets=(broken,)), values_of(sets=(broken,)))
    if complaint is None:
        assert found == []
    else:
        assert any(complaint in problem for problem in found), found


def test_a_reference_to_a_secret_nobody_makes_is_found(tmp_path):
    docs = render(tmp_path)
    order = next(doc for doc in docs if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "order-service")
    env = order["spec"]["template"]["spec"]["containers"][0]["env"]
    env.append({"name": "EXTRA", "valueFrom": {"secretKeyRef": {"name": "festflow-secrets", "key": "not-there"}}})
    env.append({"name": "OTHER", "valueFrom": {"secretKeyRef": {"name": "forgotten", "key": "x"}}})
    order["spec"]["template"]["spec"]["containers"][0]["bogusField"] = True  # strict: unknown fields refused
    found = problems(docs, values_of())
    assert any("festflow-secrets/not-there, a key it lacks" in p for p in found), found
    assert any("'forgotten', which is neither rendered nor provided" in p for p in found), found
    assert any("bogusField" in p for p in found), found


def test_an_unknown_infrastructure_is_refused_when_rendering(tmp_path):
    done = helm(tmp_path, "template", "festflow", str(CHART), "--set", "infrastructure=cluster")
    assert done.returncode != 0 and "infrastructure must be statefulset or operator" in done.stderr


@pytest.fixture(scope="module")
def default_render(tmp_path_factory) -> list[dict]:
    return render(tmp_path_factory.mktemp("helm"))


@pytest.mark.parametrize("name", sorted(set(APPS) - {"mail-sink"}))
def test_apps_get_the_settings_the_local_run_gives_and_listen_where_the_gateway_expects(name, tmp_path,
                                                                                         default_render):
    local = app_environments(get_profile("dev"), tmp_path / "k", tmp_path / "p")[name]
    local_only = {"SEED_IBAN", "SEED_BIC", "SEED_BENEFICIARY"}  # `make run`'s example bank account
    docs = default_render
    deployment = next(doc for doc in docs if doc["kind"] == "Deployment" and doc["metadata"]["name"] == name)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    given = {env["name"]: env for env in container["env"]}
    assert set(local) - local_only <= set(given), name
    assert given["FESTFLOW_ENV"]["value"] == "kubernetes"  # a deployment: development defaults refused
    assert container["ports"][0]["containerPort"] == BASE_PORTS[APPS[name][1]] == int(given["APP_PORT"]["value"])
    gateway = next(doc for doc in docs if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "gateway")
    addresses = " ".join(env["value"] for env in gateway["spec"]["template"]["spec"]["containers"][0]["env"])
    if name not in ("inventory-service", "email-function"):  # what the gateway sends on, where the app listens
        assert f"{name}:{BASE_PORTS[APPS[name][1]]}" in addresses


def test_each_part_talks_only_to_its_peers(tmp_path):
    policies = {doc["metadata"]["name"]: doc["spec"] for doc in render(tmp_path) if doc["kind"] == "NetworkPolicy"}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}

    def callers(policy: str) -> set[str]:
        return {peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                for rule in policies[policy].get("ingress", []) for peer in rule.get("from", [])}

    def callees(policy: str) -> set[str]:
        return {peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                for rule in policies[policy]["egress"] for peer in rule.get("to", [])}
    assert callers("inventory-service") == {"order-service"}
    assert callers("email-function") == set()  # it only listens to Kafka
    assert callers("rabbitmq") == {"order-service", "inventory-service", "rabbitmq"}
    assert "gateway" not in callers("postgres") and "schema" in callers("postgres")
    assert callees("mf-catalog") == {"kafka", "order-service"}
    assert callees("order-service") == {"kafka", "inventory-service", "postgres", "rabbitmq"}
    out = [rule for rule in policies["payment-service"]["egress"] if "to" not in rule]
    assert out == [{"ports": [{"port": 443, "protocol": "TCP"}]}]  # Stripe, and nothing else outside


def test_the_releases_passwords_are_random_or_the_platforms_own(tmp_path):
    def chart_secret(*sets: str) -> dict | None:
        return next((doc for doc in render(tmp_path, sets=sets) if doc["kind"] == "Secret"), None)
    first, second = chart_secret(), chart_secret()
    assert first is not None and second is not None and set(first["data"]) == PLATFORM_SECRET_KEYS
    assert all(first["data"][key] != second["data"][key] for key in PLATFORM_SECRET_KEYS)  # no default
    assert chart_secret("secrets.existingSecret=festflow-secrets") is None
    assert "festflow-keys" not in {doc["metadata"]["name"] for doc in render(tmp_path) if doc["kind"] == "Secret"}
