"""This app's settings, from environment variables (docs/configuration.md)."""
from __future__ import annotations

from festflow_runtime.settings import PlatformSettings


class Settings(PlatformSettings):
    ticketing_api_url: str = "http://127.0.0.1:8004"  # the gate's check-in figures
    payment_api_url: str = "http://127.0.0.1:8005"  # bank statements and what needs a person
    waiting_room_api_url: str = "http://127.0.0.1:8007"  # the waiting room in front of the sale
