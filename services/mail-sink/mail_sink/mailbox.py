"""Mail kept as one .eml file per message, named by arrival order; each is parsed once (when it
arrives, or when the mailbox opens) and listed from memory, by order when asked."""
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
        paths = sorted(directory.glob("*.eml"))
        self._counter = itertools.count(len(paths) + 1)
        self._messages = [_parse(path.stem, path.read_bytes()) for path in paths]

    def store(self, raw: bytes) -> str | None:
        """Keeps the message; one with a Message-ID already kept is the same message sent again (as a
        mail client would, it is shown once): nothing is stored and None returned."""
        parsed = _parse("", raw)
        with self._lock:
            if parsed["message_id"] and any(m["message_id"] == parsed["message_id"] for m in self._messages):
                return None
            name = f"{time.strftime('%Y%m%d-%H%M%S')}-{next(self._counter):06d}"
            (self.directory / f"{name}.eml").write_bytes(raw)
            self._messages.append({**parsed, "id": name})
        return name

    def messages(self, order: str | None = None, to: str | None = None) -> list[dict]:
        """Every message in arrival order; with `order`, those about that FestFlow order only; with `to`,
        those to that address."""
        with self._lock:
            kept = list(self._messages)
        return [m for m in kept if (order is None or m["headers"].get("X-FestFlow-Order") == order)
                and (to is None or (m["to"] or "").lower() == to.lower())]


    def raw(self, name: str) -> bytes | None:
        """The message as it arrived (MIME, with its attachments), or None for an unknown name."""
        with self._lock:
            known = any(m["id"] == name for m in self._messages)
        return (self.directory / f"{name}.eml").read_bytes() if known else None


def _parse(name: str, raw: bytes) -> dict:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain", "html"))
    return {
        "id": name, "from": msg["From"], "to": msg["To"], "subject": msg["Subject"],
        "date": msg["Date"], "message_id": msg["Message-ID"],
        "headers": {k: str(v) for k, v in msg.items()},
        "body": body.get_content() if body else "",
    }
