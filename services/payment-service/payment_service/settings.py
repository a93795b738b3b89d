"""The payment service's settings, from environment variables (docs/configuration.md)."""
from __future__ import annotations

from pydantic import Field

from festflow_runtime.settings import PlatformSettings


class Settings(PlatformSettings):
    database_url: str = "sqlite+aiosqlite:///./payments.db"
    # the largest bank statement the organiser may import (a 10,000-line CAMT.053 is about 10 MB)
    max_statement_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
