"""Settings from environment variables, with working local defaults."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    database_url: str
    amqp_url: str
    kafka_bootstrap: str
    prefetch: int
    internal_token: str  # what callers of /internal/* must send as a bearer token ("" leaves it open)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./inventory.db"),
            amqp_url=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
            kafka_bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            prefetch=int(os.environ.get("AMQP_PREFETCH", "64")),
            internal_token=os.environ.get("INTERNAL_API_TOKEN", ""),
        )
