"""Transport addresses: one printable string per reachable endpoint.

    tcp:127.0.0.1:7000      tcp:[::1]:7000      tcp:example.org:7000
    i2p:<52 base32 chars>.b32.i2p               i2p:<full base64 destination>
    mem:<name>                                  (in-process MemoryNetwork, tests)

`parse_address` is the only way in from text (invites, peer tables, the CLI);
it raises `BadAddress` naming the problem, and `str()` of the result gives the
canonical form back, so parse(str(a)) == a.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
import struct
from dataclasses import dataclass

from .errors import BadAddress

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_B32 = re.compile(r"^[a-z2-7]{52}\.b32\.i2p$")
_B64 = re.compile(r"^[A-Za-z0-9~-]+={0,2}$")
_MEM_NAME = re.compile(r"^[A-Za-z0-9._~@/-]{1,200}$")
# A destination is a 384-byte key area plus a certificate of at least 3 bytes.
_DEST_KEYS = 384
_DEST_MIN = _DEST_KEYS + 3
_DEST_MAX = 1024


@dataclass(frozen=True)
class TcpAddress:
    """A TCP endpoint; `host` is a hostname or an IP literal (IPv6 without brackets)."""

    host: str
    port: int

    scheme = "tcp"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp:{host}:{self.port}"


@dataclass(frozen=True)
class I2PAddress:
    """An I2P destination: `b32` hostname, and the full base64 form when known."""

    b32: str
    base64: str | None = None

    scheme = "i2p"

    @property
    def sam_target(self) -> str:
        """What to put in SAM's DESTINATION=: the full form saves a LeaseSet-by-hash lookup."""
        return self.base64 or self.b32

    def __str__(self) -> str:
        return f"i2p:{self.base64 or self.b32}"


@dataclass(frozen=True)
class MemoryAddress:
    """A name on an in-process `MemoryNetwork`."""

    name: str

    scheme = "mem"

    def __str__(self) -> str:
        return f"mem:{self.name}"


Address = TcpAddress | I2PAddress | MemoryAddress


def parse_address(text: str) -> Address:
    """Parse a transport address string.

    Args:
        text: e.g. ``tcp:127.0.0.1:7000``, ``i2p:<base32>.b32.i2p``, ``i2p:<base64>``,
            ``mem:alice``.

    Returns:
        The matching address object.

    Raises:
        BadAddress: unknown scheme or a malformed address (the message says why).
    """
    if not isinstance(text, str):
        raise BadAddress(repr(text), "not a string")
    scheme, sep, rest = text.strip().partition(":")
    if not sep:
        raise BadAddress(text, "missing scheme (expected tcp:, i2p: or mem:)")
    if scheme == "tcp":
        return _parse_tcp(text, rest)
    if scheme == "i2p":
        return parse_i2p_destination(rest, original=text)
    if scheme == "mem":
        if not _MEM_NAME.match(rest):
            raise BadAddress(text, "memory names are 1-200 of A-Z a-z 0-9 . _ ~ @ / -")
        return MemoryAddress(rest)
    raise BadAddress(text, f"unknown scheme {scheme!r} (expected tcp:, i2p: or mem:)")


def _parse_tcp(text: str, rest: str) -> TcpAddress:
    host, sep, port_text = rest.rpartition(":")
    if not sep or not host:
        raise BadAddress(text, "expected tcp:HOST:PORT")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise BadAddress(text, f"port {port_text!r} is not a number from 1 to 65535")
    if host.startswith("["):
        if not host.endswith("]"):
            raise BadAddress(text, "unbalanced [ ] around an IPv6 address")
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise BadAddress(text, f"{host!r} is not an IPv6 address") from None
    elif ":" in host:
        raise BadAddress(text, "IPv6 addresses must be written in brackets: tcp:[::1]:PORT")
    elif not _HOSTNAME.match(host):
        raise BadAddress(text, f"{host!r} is not a hostname or IPv4 address")
    return TcpAddress(host, int(port_text))


def parse_i2p_destination(text: str, *, original: str | None = None) -> I2PAddress:
    """Parse an I2P destination given as ``<base32>.b32.i2p`` or full base64.

    Args:
        text: the destination without the ``i2p:`` prefix.
        original: the full text to quote in errors (defaults to `text`).

    Returns:
        The address, with `base64` set when the full destination was given.

    Raises:
        BadAddress: neither a valid b32 hostname nor a well-formed base64 destination.
    """
    shown = original if original is not None else text
    if text.lower().endswith(".b32.i2p"):
        b32 = text.lower()
        if not _B32.match(b32):
            raise BadAddress(shown, "a .b32.i2p address has exactly 52 base32 characters")
        return I2PAddress(b32)
    if text.endswith(".i2p"):
        raise BadAddress(shown, "I2P host names are not supported; use the .b32.i2p form")
    data = _decode_destination(text, shown)
    return I2PAddress(b32_of_destination(data), text)


def _decode_destination(text: str, shown: str) -> bytes:
    if not _B64.match(text) or len(text) % 4:
        raise BadAddress(shown, "not a .b32.i2p name nor I2P base64 (A-Z a-z 0-9 - ~)")
    try:
        data = i2p_b64decode(text)
    except (binascii.Error, ValueError):
        raise BadAddress(shown, "base64 destination does not decode") from None
    if not _DEST_MIN <= len(data) <= _DEST_MAX:
        raise BadAddress(shown, f"a destination has {_DEST_MIN}-{_DEST_MAX} bytes, not {len(data)}")
    (cert_len,) = struct.unpack_from("!H", data, _DEST_KEYS + 1)
    if len(data) != _DEST_MIN + cert_len:
        raise BadAddress(shown, "destination length does not match its certificate")
    return data


def i2p_b64encode(data: bytes) -> str:
    """I2P's base64: the standard alphabet with ``-~`` in place of ``+/``."""
    return base64.b64encode(data, altchars=b"-~").decode("ascii")


def i2p_b64decode(text: str) -> bytes:
    """Decode I2P base64 strictly.

    Raises:
        binascii.Error: not valid I2P base64.
    """
    return base64.b64decode(text, altchars=b"-~", validate=True)


def b32_of_destination(data: bytes) -> str:
    """The ``.b32.i2p`` host name of a binary public destination (base32 of its SHA-256)."""
    digest = base64.b32encode(hashlib.sha256(data).digest()).decode("ascii")
    return f"{digest.rstrip('=').lower()}.b32.i2p"
