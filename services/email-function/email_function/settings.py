"""The email function's settings, from environment variables (docs/configuration.md)."""
from __future__ import annotations

from festflow_runtime.settings import PlatformSettings


class Settings(PlatformSettings):
    mail_from: str = "FestFlow <tickets@festflow.local>"
    # where buyers open the shop: the links in account mails start with it
    public_url: str = "http://localhost:3000"
    smtp_timeout: float = 10.0
    # the function's only memory: which outcomes were mailed (a SQLite file)
    email_sent_log_url: str = "sqlite+aiosqlite:///./email-sent.db"

    def sent_log_path(self) -> str:
        return self.email_sent_log_url.split("///", 1)[1]
