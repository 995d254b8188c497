"""I2P destination keys, and the file that keeps a node's I2P address stable.

The file holds the private keys exactly as the SAM bridge gave them (base64,
one line), written atomically with mode 0600; reading refuses a file others can
read, like the node key files of `cliqueclique.eventlog.keys`.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..secretfile import write_secret
from .address import I2PAddress, b32_of_destination, i2p_b64decode, i2p_b64encode
from .errors import I2PKeyFileError

_CERT_OFFSET = 384  # public keys area, then certificate type (1 byte) and length (2 bytes)
_MAX_KEYS_TEXT = 8192


@dataclass(frozen=True)
class I2PKeys:
    """A destination's private keys (base64, as SAM's DEST GENERATE / SESSION CREATE use)."""

    private_base64: str

    @classmethod
    def from_base64(cls, text: str) -> I2PKeys:
        """Check and wrap private keys.

        Raises:
            I2PKeyFileError: not base64, or too short to hold a destination and its keys.
        """
        keys = cls(text.strip())
        keys.public_base64  # noqa: B018 - parse now so bad keys fail here, not later
        return keys

    @cached_property
    def public_base64(self) -> str:
        """The public destination (what peers dial), base64."""
        try:
            data = i2p_b64decode(self.private_base64)
        except (binascii.Error, ValueError):
            raise I2PKeyFileError("I2P private keys are not valid base64") from None
        if len(data) < _CERT_OFFSET + 3:
            raise I2PKeyFileError("I2P private keys are too short")
        (cert_len,) = struct.unpack_from("!H", data, _CERT_OFFSET + 1)
        dest_len = _CERT_OFFSET + 3 + cert_len
        if len(data) <= dest_len:
            raise I2PKeyFileError("I2P private keys hold no private part")
        return i2p_b64encode(data[:dest_len])

    @property
    def address(self) -> I2PAddress:
        """This destination as an address (b32 and full base64)."""
        public = self.public_base64
        return I2PAddress(b32_of_destination(i2p_b64decode(public)), public)


def write_keys(path: Path, keys: I2PKeys) -> None:
    """Write keys with mode 0600, atomically (never a half-written key file)."""
    write_secret(path, keys.private_base64.encode("ascii") + b"\n")


def read_keys(path: Path) -> I2PKeys:
    """Read keys written by `write_keys`.

    Raises:
        I2PKeyFileError: missing, unreadable, readable by others, or malformed.
    """
    try:
        mode = path.stat().st_mode & 0o777
        with path.open("rb") as f:
            raw = f.read(_MAX_KEYS_TEXT + 1)
    except OSError as e:
        raise I2PKeyFileError(f"cannot read I2P keys {path}: {e.strerror}") from None
    if mode & 0o077:
        raise I2PKeyFileError(f"I2P key file {path} is readable by others (mode {mode:o}); "
                              "chmod 600 it")
    if len(raw) > _MAX_KEYS_TEXT:
        raise I2PKeyFileError(f"I2P key file {path} is too large")
    try:
        return I2PKeys.from_base64(raw.decode("ascii"))
    except (UnicodeDecodeError, I2PKeyFileError):
        raise I2PKeyFileError(f"I2P key file {path} is malformed") from None
