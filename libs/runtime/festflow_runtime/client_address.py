"""Who is asking: the address of the client behind the gateway, for limits kept per address.

The gateway sets `X-Real-IP` to the address it was reached from, and an app that calls another for a
visitor (the shell's forms calling the order API) passes it on. The header is believed only from a
trusted proxy (`TRUSTED_PROXIES`: the gateway's and the shell's networks); from anyone else the peer's
own address counts, so a client cannot pick the address its failures are counted under.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
HEADER = "X-Real-IP"


def trusted_networks(text: str) -> tuple[Network, ...]:
    """`127.0.0.0/8,::1` -> the networks; ValueError names a bad entry."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"TRUSTED_PROXIES: {entry!r} is no address or network") from None
    return tuple(networks)


def _within(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str | None, forwarded: str | None, trusted: Sequence[Network]) -> str:
    """The client's address: `forwarded` (the X-Real-IP header) when the peer is a trusted proxy and the
    header holds an address, else the peer's own address ("" when unknown)."""
    peer = peer or ""
    if forwarded and _within(peer, trusted):
        candidate = forwarded.strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            pass
    return peer
