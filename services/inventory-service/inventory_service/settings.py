"""The inventory service's settings, from environment variables (docs/configuration.md)."""
from __future__ import annotations

from typing import ClassVar

from festflow_runtime.settings import PlatformSettings


class Settings(PlatformSettings):
    deployment_secrets: ClassVar[tuple[str, ...]] = ("internal_api_token",)
    database_url: str = "sqlite+aiosqlite:///./inventory.db"
    amqp_prefetch: int = 64
    # the account buyers pay into, set on a festival made afresh (the organiser changes it on /admin/festival):
    # `make run` sets one, so that its orders are paid by bank transfer; none: the festival takes no payment
    seed_iban: str = ""
    seed_bic: str = ""
    seed_beneficiary: str = ""

    def seed_bank_account(self) -> dict[str, str]:
        return {"iban": self.seed_iban, "bic": self.seed_bic, "beneficiary": self.seed_beneficiary}
