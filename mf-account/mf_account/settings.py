"""This app's settings, from environment variables (docs/configuration.md)."""
from __future__ import annotations

from festflow_runtime.settings import PlatformSettings


class Settings(PlatformSettings):
    pass  # only the platform's common parts: the order API, Kafka (logouts), the token key, trusted proxies
