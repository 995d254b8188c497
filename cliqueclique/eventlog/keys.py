"""Node identities: ed25519 key pairs kept in files only their owner can read."""

from __future__ import annotations

from pathlib import Path

from nacl.signing import SigningKey

from ..errors import NodeError
from ..secretfile import write_secret

SEED_SIZE = 32


def node_id(key: SigningKey) -> str:
    """The printable id of a node: its public key in lowercase hex (64 characters)."""
    return bytes(key.verify_key).hex()


def write_key(path: Path, key: SigningKey) -> None:
    """Write the secret seed with mode 0600, atomically (never a half-written key)."""
    write_secret(path, bytes(key).hex().encode() + b"\n")


def read_key(path: Path) -> SigningKey:
    """Read a key written by `write_key`, refusing files others can read.

    Raises:
        NodeError: missing, unreadable, world/group-readable or malformed key file.
    """
    try:
        mode = path.stat().st_mode & 0o777
        text = path.read_text().strip()
    except OSError as e:
        raise NodeError(f"cannot read key {path}: {e.strerror}") from None
    if mode & 0o077:
        raise NodeError(f"key file {path} is readable by others (mode {mode:o}); chmod 600 it")
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        seed = b""
    if len(seed) != SEED_SIZE:
        raise NodeError(f"key file {path} is malformed")
    return SigningKey(seed)
