"""The waiting room's settings, from environment variables (docs/configuration.md)."""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from festflow_runtime.settings import PlatformSettings


class Settings(PlatformSettings):
    deployment_secrets: ClassVar[tuple[str, ...]] = ("waiting_room_secret",)
    database_url: str = "sqlite+aiosqlite:///./waiting-room.db"
    # how many buyers a second the sale takes (measured: docs/benchmarks.md) when the organiser sets no rate
    checkout_capacity_per_second: float = Field(default=500.0, gt=0)
    tick_seconds: float = Field(default=1.0, gt=0, le=10)  # how often admission looks at the queue and stock
