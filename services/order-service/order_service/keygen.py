"""`python -m order_service.keygen DIR`: writes an RS256 key pair (jwt-private.pem, jwt-public.pem) into DIR
unless one is there. The container deployment runs it once into a shared volume before the apps start."""
from __future__ import annotations

import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def ensure_keypair(directory: Path) -> None:
    private_path, public_path = directory / "jwt-private.pem", directory / "jwt-public.pem"
    if private_path.exists() and public_path.exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))


if __name__ == "__main__":
    ensure_keypair(Path(sys.argv[1] if len(sys.argv) > 1 else "keys"))
