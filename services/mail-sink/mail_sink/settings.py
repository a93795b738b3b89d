"""The mail sink's settings: where it listens for SMTP (the platform's SMTP address) and keeps mail."""
from __future__ import annotations

from festflow_runtime.settings import PlatformSettings


class Settings(PlatformSettings):
    mailbox_dir: str = "./mailbox"
