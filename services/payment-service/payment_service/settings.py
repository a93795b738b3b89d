"""The payment service's settings, from environment variables (docs/configuration.md)."""
from __future__ import annotations

from pydantic import Field

from festflow_runtime.settings import PlatformSettings


class Settings(PlatformSettings):
    database_url: str = "sqlite+aiosqlite:///./payments.db"
    # the largest bank statement the organiser may import (a 10,000-line CAMT.053 is about 10 MB)
    max_statement_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    # Stripe, when both are set (the webhook's secret, `whsec_...`, from the Stripe dashboard)
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    # the publishable key (`pk_...`) Stripe's script on the pay page uses to show the card form
    stripe_publishable_key: str = ""
    # how old a webhook's signature may be: an older one is a replay and is refused
    stripe_webhook_tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    # where Stripe's API is: "" for Stripe itself; the tests point it at stripe-mock
    stripe_api_base: str = ""
