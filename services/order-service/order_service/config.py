"""Settings from environment variables, with working local defaults."""
from __future__ import annotations

import os
from dataclasses import dataclass

from festflow_contracts.tokens import load_key


@dataclass(frozen=True)
class Settings:
    database_url: str
    amqp_url: str
    kafka_bootstrap: str
    inventory_url: str
    private_key_pem: str
    public_key_pem: str
    token_ttl_seconds: int
    max_quantity_per_item: int
    max_items_per_order: int
    cookie_secure: bool
    internal_token: str  # the service token of the inventory's internal API

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./orders.db"),
            amqp_url=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
            kafka_bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            inventory_url=os.environ.get("INVENTORY_URL", "http://127.0.0.1:8001"),
            private_key_pem=load_key("JWT_PRIVATE_KEY"),
            public_key_pem=load_key("JWT_PUBLIC_KEY"),
            token_ttl_seconds=int(os.environ.get("JWT_TTL_SECONDS", "3600")),
            max_quantity_per_item=int(os.environ.get("MAX_QUANTITY_PER_ITEM", "10")),
            max_items_per_order=int(os.environ.get("MAX_ITEMS_PER_ORDER", "10")),
            cookie_secure=os.environ.get("COOKIE_SECURE", "false").lower() == "true",
            internal_token=os.environ.get("INTERNAL_API_TOKEN", ""),
        )
