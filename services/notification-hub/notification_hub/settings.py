"""The notification hub's settings, from environment variables (docs/configuration.md)."""
from __future__ import annotations

from festflow_runtime.settings import PlatformSettings


class Settings(PlatformSettings):
    pass  # the hub needs only the platform's common parts: Kafka and the token key
