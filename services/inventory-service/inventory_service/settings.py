"""The inventory service's settings, from environment variables (docs/configuration.md)."""
from __future__ import annotations

from festflow_runtime.settings import PlatformSettings


class Settings(PlatformSettings):
    database_url: str = "sqlite+aiosqlite:///./inventory.db"
    amqp_prefetch: int = 64
