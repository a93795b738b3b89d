"""What every FestFlow app's settings share: where the platform's common parts are.

Each app has one settings class, a subclass of `PlatformSettings`, read once at start-up from environment
variables (field name in capitals: `kafka_bootstrap_servers` <- KAFKA_BOOTSTRAP_SERVERS). Every default
works on a developer's machine; each is written here or in its app's settings, nowhere else.
"""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from festflow_runtime.client_address import trusted_networks

# where FestFlow runs for development and tests (the local runner's profiles): its defaults are fine there
LOCAL_ENVIRONMENTS = frozenset({"dev", "test", "bench", "scale", "cluster"})
# what a password, token or secret left at a development default contains
DEFAULT_SECRET_MARKERS = ("change-me", "festflow-dev-", "guest:guest@", "festflow:festflow@")


class PlatformSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    # the local runner's profile (dev, test, bench, scale), or a deployment (compose, kubernetes, ...), where no
    # password, token or secret may keep a development default: the app refuses to start with one
    festflow_env: str = "dev"
    # the secrets an app cannot run a deployment without (its settings class names them): each must be set
    deployment_secrets: ClassVar[tuple[str, ...]] = ()

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    order_api_url: str = "http://127.0.0.1:8000"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    # the order service's public key (PEM text, or a file holding it): every app verifies tokens with it
    jwt_public_key: str = ""
    jwt_public_key_file: str = ""
    # a shared secret between the order service and the inventory's /internal/* API ("" leaves it open)
    internal_api_token: str = ""
    # the secret the waiting room signs its passes with and the order service checks them with
    waiting_room_secret: str = "festflow-dev-waiting-room-secret"
    cookie_secure: bool = False  # cookies only over HTTPS (set behind a TLS gateway)
    # who may say which client a request is for (X-Real-IP): the gateway's and the shell's addresses
    trusted_proxies: str = "127.0.0.0/8,::1"

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        trusted_networks(value)  # a bad entry stops the app at start, with its name
        return value

    @model_validator(mode="after")
    def _no_default_secrets_in_a_deployment(self) -> PlatformSettings:
        if self.festflow_env in LOCAL_ENVIRONMENTS:
            return self
        weak = sorted({name.upper() for name, value in self if name in self.model_fields_set
                       and isinstance(value, str) and any(marker in value for marker in DEFAULT_SECRET_MARKERS)}
                      | {name.upper() for name in self.deployment_secrets
                         if name not in self.model_fields_set or not getattr(self, name)})
        if weak:
            raise ValueError(f"FESTFLOW_ENV={self.festflow_env} is a deployment, and {', '.join(weak)} hold no "
                             "secret of its own (unset, empty or a development default): set your own")
        return self

    def public_key_pem(self) -> str:
        return pem("JWT_PUBLIC_KEY", self.jwt_public_key, self.jwt_public_key_file)


def pem(name: str, text: str, path: str) -> str:
    """A key given as text or as a file path; a clear error when neither is set."""
    if text:
        return text
    if path:
        return Path(path).read_text()
    raise RuntimeError(f"set {name} or {name}_FILE")


class JobSettings(BaseSettings):
    """The one-shot Jobs' settings (festflow_runtime.schema, festflow_runtime.kube_secret), from the environment
    as the apps' are: the database whose schema to make, and where the Kubernetes API server is (Kubernetes
    sets KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT in every pod)."""
    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    database_url: str = ""
    kubernetes_service_host: str = ""
    kubernetes_service_port: int = 443
