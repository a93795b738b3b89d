"""FestFlow's own apps, each started as its own uvicorn process with the same environment
variables that docker-compose.yml gives its container."""
from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from festflow_devstack import probes
from festflow_devstack.infra import kafka_bootstrap
from festflow_devstack.profiles import Layout, Profile, instance_port
from festflow_devstack.supervisor import Component, python_module


def _sqlite(profile: Profile, name: str) -> str:
    return f"sqlite+aiosqlite:///{profile.run_dir / 'data' / name}"


def stack_secret(keys_dir: Path, name: str) -> str:
    """A random secret of the stack, made once (on its first start) and kept with the keys."""
    path = keys_dir / name
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def internal_token(keys_dir: Path) -> str:
    """The service token of the inventory's internal API."""
    return stack_secret(keys_dir, "internal-api-token")


def waiting_room_secret(keys_dir: Path) -> str:
    """The secret the waiting room signs its passes with and the order service checks them with."""
    return stack_secret(keys_dir, "waiting-room-secret")


def ticket_signing_key(keys_dir: Path) -> Path:
    """The stack's Ed25519 key for signing tickets, made on first start (only the ticketing service reads it)."""
    path = keys_dir / "ticket-signing.pem"
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        path.chmod(0o600)
    return path


def amqp_urls(profile: Profile, nodes: int = 1) -> str:
    """Every RabbitMQ node's URL, comma-separated (the apps connect to one and move on when it goes)."""
    return ",".join(f"amqp://guest:guest@127.0.0.1:{profile.rabbit_ports(node)['amqp']}/"
                    for node in range(1, nodes + 1))


def app_environments(profile: Profile, private_key: Path, public_key: Path, databases: dict[str, str] | None = None,
                     layout: Layout | None = None) -> dict[str, dict[str, str]]:
    """Each app's environment; `databases` names a service's DATABASE_URL (SQLite files by default)."""
    p = profile.ports
    nodes = (layout or Layout()).nodes
    amqp = amqp_urls(profile, nodes)
    db = {"order-service": _sqlite(profile, "orders.db"), "inventory-service": _sqlite(profile, "inventory.db"),
          "ticketing-service": _sqlite(profile, "ticketing.db"),
          "payment-service": _sqlite(profile, "payments.db"),
          "waiting-room": _sqlite(profile, "waiting-room.db")} | (databases or {})
    token = internal_token(private_key.parent)
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap(profile, nodes),
        "JWT_PUBLIC_KEY_FILE": str(public_key),
        "FESTFLOW_ENV": profile.name,
    }
    order_api = profile.url("order")
    return {
        "inventory-service": {**common, "DATABASE_URL": db["inventory-service"],
                              "AMQP_URL": amqp, "INTERNAL_API_TOKEN": token, **bank_account(profile)},
        "order-service": {**common, "DATABASE_URL": db["order-service"],
                          "AMQP_URL": amqp, "JWT_PRIVATE_KEY_FILE": str(private_key),
                          "INVENTORY_URL": profile.url("inventory"), "INTERNAL_API_TOKEN": token,
                          "WAITING_ROOM_SECRET": waiting_room_secret(private_key.parent), **order_limits(profile)},
        "email-function": {**common, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(p["smtp"]),
                           "EMAIL_SENT_LOG_URL": _sqlite(profile, "email-sent.db"),
                           "PUBLIC_URL": profile.url("gateway")},
        "notification-hub": {**common},
        "ticketing-service": {**common, "DATABASE_URL": db["ticketing-service"],
                              "TICKET_SIGNING_KEY_FILE": str(ticket_signing_key(private_key.parent))},
        "payment-service": {**common, "DATABASE_URL": db["payment-service"], **stripe(profile)},
        "waiting-room": {**common, "DATABASE_URL": db["waiting-room"], "ORDER_API_URL": order_api,
                         "WAITING_ROOM_SECRET": waiting_room_secret(private_key.parent)},
        "mail-sink": {"SMTP_PORT": str(p["smtp"]), "MAILBOX_DIR": str(profile.run_dir / "mailbox")},
        "shell-app": {**common, "ORDER_API_URL": order_api},
        "mf-catalog": {**common, "ORDER_API_URL": order_api},
        "mf-cart": {**common, "ORDER_API_URL": order_api, "TICKETING_API_URL": profile.url("ticketing"),
                    "PAYMENT_API_URL": profile.url("payment"), "WAITING_ROOM_API_URL": profile.url("waiting")},
        "mf-admin": {**common, "ORDER_API_URL": order_api, "TICKETING_API_URL": profile.url("ticketing"),
                     "PAYMENT_API_URL": profile.url("payment"), "WAITING_ROOM_API_URL": profile.url("waiting")},
        "mf-gate": {**common},
        "mf-account": {**common, "ORDER_API_URL": order_api},
    }


# the (example) account `make run`'s festival is paid into: its orders are paid by bank transfer there
DEV_BANK_ACCOUNT = {"SEED_IBAN": "DE89370400440532013000", "SEED_BIC": "COBADEFFXXX",
                    "SEED_BENEFICIARY": "FestFlow Summer Festival"}


def bank_account(profile: Profile) -> dict[str, str]:
    """`make run` sells by bank transfer; the test and bench stacks start with no account (orders are sold at
    once), and the payment tests set one through the organiser's API."""
    return DEV_BANK_ACCOUNT if profile.name == "dev" else {}


TEST_STRIPE_WEBHOOK_SECRET = "whsec_festflow_test_stack"


def stripe(profile: Profile) -> dict[str, str]:
    """Stripe is off under `make run`; the test stack talks to Stripe's test server, stripe-mock (which it
    starts), and has a webhook secret its tests sign events with."""
    if profile.name != "test":
        return {}
    return {"STRIPE_SECRET_KEY": "sk_test_festflowteststack", "STRIPE_API_BASE": profile.url("stripe"),
            "STRIPE_WEBHOOK_SECRET": TEST_STRIPE_WEBHOOK_SECRET, "STRIPE_PUBLISHABLE_KEY": "pk_test_festflowteststack"}


def order_limits(profile: Profile) -> dict[str, str]:
    """The order service's account limits. The test stack's many tests all come from one address and ask
    for a second link to one account at once: there, a second between links instead of a minute, and no
    lock of the whole address (the unit tests prove that lock)."""
    testing = profile.name == "test"
    return {"ACCOUNT_MAIL_INTERVAL_SECONDS": "1" if testing else "60",
            "LOGIN_ADDRESS_LOCK_AFTER": "1000000" if testing else "50", "LOGIN_PROOF_AFTER": "30"}


# name -> (ASGI app, port name, extra uvicorn flags)
APPS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "mail-sink": ("mail_sink.main:create_app", "mail_http", ()),
    "inventory-service": ("inventory_service.main:create_app", "inventory", ()),
    "order-service": ("order_service.main:create_app", "order", ()),
    "email-function": ("email_function.main:create_app", "email", ()),
    # per-message deflate costs ~50 KiB per socket; the hub holds one socket per open page. A page sends it
    # only small messages (the newest notification it has shown): anything over 16 KiB closes the socket
    "notification-hub": ("notification_hub.main:create_app", "notify",
                         ("--ws-per-message-deflate", "false", "--ws-max-size", "16384")),
    "ticketing-service": ("ticketing_service.main:create_app", "ticketing", ()),
    "payment-service": ("payment_service.main:create_app", "payment", ()),
    "waiting-room": ("waiting_room.main:create_app", "waiting", ()),
    "shell-app": ("shell_app.main:create_app", "shell", ()),
    "mf-catalog": ("mf_catalog.main:create_app", "catalog", ()),
    "mf-cart": ("mf_cart.main:create_app", "cart", ()),
    "mf-admin": ("mf_admin.main:create_app", "admin", ()),
    "mf-gate": ("mf_gate.main:create_app", "gate", ()),
    "mf-account": ("mf_account.main:create_app", "account", ()),
}


# the browser app's parts (they start after the services, whose APIs they read)
FRONTENDS = ("shell-app", "mf-catalog", "mf-cart", "mf-admin", "mf-gate", "mf-account")

# Mail waits while the sale needs the CPU: on one machine the email function (and the local mail sink)
# rendering QR codes and PDFs would otherwise take cores from checkout in a drop's first minute. They catch
# up as soon as the rush is over; the bench reports when the last mail was sent. They run at nice 19, they
# and their sessions (supervisor.lower_priority), and under SCHED_IDLE (supervisor.run_when_idle).
BACKGROUND = ("email-function", "mail-sink")


def app_component(profile: Profile, name: str, env: dict[str, str], instance: str | None = None,
                  timeout: float = 60) -> Component:
    """App `name` as its own process; `instance` (e.g. `order-service-2`) is a further instance of it, on
    its own port (see instance_port)."""
    asgi, port_name, flags = APPS[name]
    instance = instance or name
    port = instance_port(profile.ports[port_name], instance)
    argv = python_module("uvicorn", "--factory", asgi, "--host", "127.0.0.1", "--port", str(port),
                         "--no-access-log", "--no-server-header", *flags)

    def prepare() -> None:
        (profile.run_dir / "data").mkdir(parents=True, exist_ok=True)

    return Component(instance, argv, lambda: probes.http_ok(f"http://127.0.0.1:{port}/healthz"),
                     env=env, prepare=prepare, timeout=timeout,
                     nice=19 if name in BACKGROUND else 0, idle=name in BACKGROUND)
