"""The ticketing service's settings, from environment variables (docs/configuration.md)."""
from __future__ import annotations

from festflow_runtime.settings import PlatformSettings, pem


class Settings(PlatformSettings):
    database_url: str = "sqlite+aiosqlite:///./ticketing.db"
    # the Ed25519 key tickets are signed with (PEM text, or a file holding it); no other app has it
    ticket_signing_key: str = ""
    ticket_signing_key_file: str = ""
    festival_id: str = "festflow"  # which festival a ticket admits to: part of what is signed

    def signing_key_pem(self) -> str:
        return pem("TICKET_SIGNING_KEY", self.ticket_signing_key, self.ticket_signing_key_file)
