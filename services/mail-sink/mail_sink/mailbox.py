"""Mail kept as one .eml file per message, named by arrival order."""
from __future__ import annotations

import email
import email.policy
import itertools
import threading
import time
from pathlib import Path


class Mailbox:
    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._counter = itertools.count(len(list(directory.glob("*.eml"))) + 1)

    def store(self, raw: bytes) -> str:
        with self._lock:
            name = f"{time.strftime('%Y%m%d-%H%M%S')}-{next(self._counter):06d}"
            (self.directory / f"{name}.eml").write_bytes(raw)
        return name

    def messages(self) -> list[dict]:
        result = []
        for path in sorted(self.directory.glob("*.eml")):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            body = msg.get_body(preferencelist=("plain", "html"))
            result.append({
                "id": path.stem, "from": msg["From"], "to": msg["To"], "subject": msg["Subject"],
                "date": msg["Date"], "message_id": msg["Message-ID"],
                "headers": {k: str(v) for k, v in msg.items()},
                "body": body.get_content() if body else "",
            })
        return result
