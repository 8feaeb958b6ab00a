"""Server-side fetches of URLs that come from outside reach only the public internet (no SSRF).

A URL a customer, an email or a webhook hands us (a recording, an attachment link) must not make the server
call its own admin ports, the database, the cloud metadata service (169.254.169.254) or anything else on the
private network. Checking the URL's host is not enough: a public name can resolve to a private address (or
change its answer between check and use), and a public server can redirect inward. So the check sits where the
socket is made: `guarded_session()`'s connector refuses every connection, first hop or redirect, whose actual
peer address is not public. Fetch such URLs only through it.

URLs the operator configures (Twilio's API base, SMTP and IMAP hosts) are trusted and do not need it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohappyeyeballs import AddrInfoType
from yarl import URL

__all__ = ["BlockedAddress", "BlockedUrl", "check_url", "guarded_session", "is_public_address"]

# IPv6 prefixes that carry an IPv4 address inside: NAT64 (RFC 6052) reaches the embedded address.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedAddress(ConnectionRefusedError):
    """A fetch would have connected to an address that is not on the public internet."""


class BlockedUrl(ValueError):
    """A URL that is never fetched: not http(s), or without a host."""


def is_public_address(address: str) -> bool:
    """Say whether an IP address is globally routable (not loopback, private, link-local, reserved, multicast)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        nat64 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None
        embedded = ip.ipv4_mapped or ip.sixtofour or nat64
        if embedded is not None:
            ip = embedded
    return ip.is_global and not ip.is_multicast


def check_url(url: str | URL) -> URL:
    """Return the URL if it is one we would fetch at all (http or https, with a host), else raise BlockedUrl."""
    parsed = URL(url) if isinstance(url, str) else url
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise BlockedUrl(f"only http and https URLs with a host are fetched, not {str(parsed)[:100]!r}")
    return parsed


def _socket_factory(allowed: Callable[[str], bool]) -> Callable[[AddrInfoType], socket.socket]:
    def make(addr_info: AddrInfoType) -> socket.socket:
        family, type_, proto, _, address = addr_info
        host = str(address[0])
        if not allowed(host):
            raise BlockedAddress(f"refusing to fetch from {host}: not a public address")
        return socket.socket(family=family, type=type_, proto=proto)

    return make


def guarded_session(*, allowed: Callable[[str], bool] = is_public_address, **kwargs: Any) -> aiohttp.ClientSession:
    """Return a client session that connects only to addresses `allowed` accepts (public ones by default).

    A refused connection raises `aiohttp.ClientConnectorError` whose `os_error` is a `BlockedAddress`. Proxies
    from the environment are ignored: the proxy's address would be the only one checked.
    """
    connector = aiohttp.TCPConnector(socket_factory=_socket_factory(allowed))
    return aiohttp.ClientSession(connector=connector, trust_env=False, **kwargs)
