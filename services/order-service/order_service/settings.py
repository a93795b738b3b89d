"""The order service's settings, from environment variables (docs/configuration.md)."""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from festflow_runtime.settings import PlatformSettings, pem


class Settings(PlatformSettings):
    deployment_secrets: ClassVar[tuple[str, ...]] = ("internal_api_token", "waiting_room_secret")
    database_url: str = "sqlite+aiosqlite:///./orders.db"
    inventory_url: str = "http://127.0.0.1:8001"
    # the key this service signs tokens with (PEM text, or a file holding it); no other app has it
    jwt_private_key: str = ""
    jwt_private_key_file: str = ""
    # at most a day: the apps remember an account's ended sessions that long (tokens.ENDED_SESSIONS_KEPT)
    jwt_ttl_seconds: int = Field(default=3600, ge=60, le=86_400)
    # at most one account mail (confirmation or reset link) per account and purpose in this many seconds
    account_mail_interval_seconds: float = Field(default=60, ge=0, le=86_400)
    # failed logins from one client address, for any account, after which it is refused for a while
    login_address_lock_after: int = Field(default=50, ge=1)
    # failed logins for one account from every address together, after which logging in takes a mailed link
    login_proof_after: int = Field(default=30, ge=1)
    max_quantity_per_item: int = 10
    max_items_per_order: int = 10
    fast_checkout: bool = True  # POST /api/orders answered by the checkout lane (checkout_lane.py)
    checkout_shed_seconds: float = 2.0  # a checkout that waited longer is answered 503, retry (0: never)

    def private_key_pem(self) -> str:
        return pem("JWT_PRIVATE_KEY", self.jwt_private_key, self.jwt_private_key_file)
