"""Writes the ticket signing key (Ed25519) into a folder if it is not there yet: `python -m
ticketing_service.keygen /keys` (docker-compose's one-shot `ticket-keys` container)."""
from __future__ import annotations

import sys
from pathlib import Path

from ticketing_service.signing import generate_key_pem


def main(folder: str) -> None:
    path = Path(folder) / "ticket-signing.pem"
    if path.exists():
        print(f"{path} exists; kept")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(generate_key_pem())
    path.chmod(0o600)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
