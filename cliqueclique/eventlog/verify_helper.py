"""The signature-checking helper process (see `verifier.py`), run as a script.

It is started by path, not with `-m`, so it imports nothing but pynacl: the
package's `__init__` pulls in the whole node (about half a second of start-up
per helper, which a one-off import of a thread would pay in full).

Pipe protocol, both directions length-prefixed (4 bytes, big endian):
request = records of 32-byte key | 64-byte signature | 2-byte length | header;
reply = one byte per record, 1 if the signature holds.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Sequence
from typing import IO, BinaryIO

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

MAX_KEYS = 100_000  # bound the key cache; authors are few in practice


def read_exact(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if data is None or len(data) != size:
        raise EOFError
    return data


def encode_request(items: Sequence[tuple[bytes, bytes, bytes]]) -> bytes:
    """(raw 32-byte key, header, signature) triples as one framed request."""
    payload = b"".join(key + signature + len(header).to_bytes(2, "big") + header
                       for key, header, signature in items)
    return struct.pack(">I", len(payload)) + payload


def check_request(payload: bytes, keys: dict[bytes, VerifyKey]) -> bytes:
    verdicts = bytearray()
    offset = 0
    while offset < len(payload):
        raw_key, signature = payload[offset : offset + 32], payload[offset + 32 : offset + 96]
        size = int.from_bytes(payload[offset + 96 : offset + 98], "big")
        header = payload[offset + 98 : offset + 98 + size]
        offset += 98 + size
        key = keys.get(raw_key)
        if key is None:
            if len(keys) >= MAX_KEYS:
                keys.clear()
            key = keys[raw_key] = VerifyKey(raw_key)
        try:
            key.verify(header, signature)
            verdicts.append(1)
        except (BadSignatureError, ValueError, TypeError):
            verdicts.append(0)
    return bytes(verdicts)


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Answer requests until the parent closes the pipe."""
    keys: dict[bytes, VerifyKey] = {}
    try:
        while True:
            (size,) = struct.unpack(">I", read_exact(stdin, 4))
            reply = check_request(read_exact(stdin, size), keys)
            stdout.write(struct.pack(">I", len(reply)) + reply)
            stdout.flush()
    except EOFError:
        return


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
