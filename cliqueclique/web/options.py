"""Where the web UI listens, and what guards it when that is not loopback."""

from __future__ import annotations

import ipaddress
import secrets
import socket
from dataclasses import dataclass

from .errors import BadWebAddress

LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class WebOptions:
    """How the node's web UI is served.

    Any interface but loopback needs `allow_remote` and then an access
    `token` (generated when not given): the UI holds a person's identity.
    """

    host: str = "127.0.0.1"
    port: int = 0
    allow_remote: bool = False
    token: str | None = None

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_web(text: str, *, allow_remote: bool = False, token: str | None = None) -> WebOptions:
    """`HOST:PORT` for the web UI (port 0: any free port).

    Raises:
        BadWebAddress: not HOST:PORT, or not loopback without `allow_remote`.
    """
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise BadWebAddress(f"cannot serve the web UI on {text!r}: expected HOST:PORT, "
                            "e.g. 127.0.0.1:8470")
    if not is_loopback(host):
        if not allow_remote:
            raise BadWebAddress(f"{host} is not a loopback address: the web UI acts as you, so "
                                "serving it elsewhere needs --web-allow-remote (and a token)")
        token = token or secrets.token_urlsafe(24)
    return WebOptions(host, int(port), allow_remote, token)


def port_or_any(host: str, port: int) -> int:
    """`port` if it can be bound on `host` now, else 0 (any free port).

    For the port remembered from the last run: a stable URL is nicer, but a
    port taken since then must not stop the node from starting.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return 0
    return port
