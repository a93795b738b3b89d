"""The order service's settings, from environment variables (see README's configuration table)."""
from __future__ import annotations

from festflow_runtime.settings import PlatformSettings, pem


class Settings(PlatformSettings):
    database_url: str = "sqlite+aiosqlite:///./orders.db"
    inventory_url: str = "http://127.0.0.1:8001"
    # the key this service signs tokens with (PEM text, or a file holding it); no other app has it
    jwt_private_key: str = ""
    jwt_private_key_file: str = ""
    jwt_ttl_seconds: int = 3600
    max_quantity_per_item: int = 10
    max_items_per_order: int = 10
    fast_checkout: bool = True  # POST /api/orders answered by the checkout lane (checkout_lane.py)
    checkout_shed_seconds: float = 2.0  # a checkout that waited longer is answered 503, retry (0: never)

    def private_key_pem(self) -> str:
        return pem("JWT_PRIVATE_KEY", self.jwt_private_key, self.jwt_private_key_file)
