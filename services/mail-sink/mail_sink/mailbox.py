"""Mail kept as one .eml file per message, named by arrival order. A message's headers are read when it
arrives (its Message-ID says whether it is a copy of one kept already); the whole message is parsed the
first time it is listed, once: a drop delivers thousands of mails a minute that nobody lists."""
from __future__ import annotations

import email
import email.parser
import email.policy
import itertools
import threading
import time
from pathlib import Path

_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)


class Mailbox:
    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        paths = sorted(directory.glob("*.eml"))
        self._counter = itertools.count(len(paths) + 1)
        self._names = [path.stem for path in paths]  # in arrival order
        self._parsed: dict[str, dict] = {}
        self._ids = {mid for path in paths if (mid := _message_id(path.read_bytes()))}

    def store(self, raw: bytes) -> str | None:
        """Keeps the message; one with a Message-ID already kept is the same message sent again (as a
        mail client would, it is shown once): nothing is stored and None returned."""
        message_id = _message_id(raw)
        with self._lock:
            if message_id and message_id in self._ids:
                return None
            if message_id:
                self._ids.add(message_id)
            name = f"{time.strftime('%Y%m%d-%H%M%S')}-{next(self._counter):06d}"
            (self.directory / f"{name}.eml").write_bytes(raw)
            self._names.append(name)
        return name

    def count(self) -> int:
        with self._lock:
            return len(self._names)

    def _all(self) -> list[dict]:
        with self._lock:
            names = list(self._names)
        for name in names:
            if name not in self._parsed:
                self._parsed[name] = _parse(name, (self.directory / f"{name}.eml").read_bytes())
        return [self._parsed[name] for name in names]

    def messages(self, order: str | None = None, to: str | None = None) -> list[dict]:
        """Every message in arrival order; with `order`, those about that FestFlow order only; with `to`,
        those to that address."""
        kept = self._all()
        return [m for m in kept if (order is None or m["headers"].get("X-FestFlow-Order") == order)
                and (to is None or (m["to"] or "").lower() == to.lower())]


    def raw(self, name: str) -> bytes | None:
        """The message as it arrived (MIME, with its attachments), or None for an unknown name."""
        with self._lock:
            known = name in self._names
        return (self.directory / f"{name}.eml").read_bytes() if known else None


def _message_id(raw: bytes) -> str | None:
    found = _HEADERS.parsebytes(raw).get("Message-ID")
    return str(found).strip() if found else None


def _parse(name: str, raw: bytes) -> dict:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain", "html"))
    return {
        "id": name, "from": msg["From"], "to": msg["To"], "subject": msg["Subject"],
        "date": msg["Date"], "message_id": msg["Message-ID"],
        "headers": {k: str(v) for k, v in msg.items()},
        "body": body.get_content() if body else "",
    }
