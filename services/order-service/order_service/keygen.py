"""`python -m order_service.keygen DIR`: writes an RS256 key pair (jwt-private.pem, jwt-public.pem) into DIR
unless one is there. The container deployment runs it once into a shared volume before the apps start."""
from __future__ import annotations

import sys
from pathlib import Path

from festflow_contracts.tokens import write_keypair

if __name__ == "__main__":
    write_keypair(Path(sys.argv[1] if len(sys.argv) > 1 else "keys"))
