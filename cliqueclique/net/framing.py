"""Frames on a byte stream, and their authenticated encryption (sans-IO).

Wire format of every frame, in both the handshake and the data phase::

    length (4 bytes, big-endian)  body (length bytes)

After the handshake each body is a sealed frame::

    seq (8 bytes, big-endian)  ChaCha20-Poly1305 ciphertext of the payload (+16-byte tag)

with the nonce derived from `seq` and `seq` itself as associated data. Each
direction has its own key (from the handshake) and its own counter starting at
0, so the receiver knows exactly which `seq` comes next: a replayed, dropped or
reordered frame shows up as `FrameOutOfSequence`; a frame whose bytes were
altered, or that was sealed under another key (for example our own frame
reflected back at us), fails with `FrameAuthenticationFailed`.

The decoder checks the announced length before buffering the body, so an
oversized frame is refused after 4 bytes instead of after a megabyte.
"""

from __future__ import annotations

import struct

from nacl.bindings import (
    crypto_aead_chacha20poly1305_ietf_ABYTES,
    crypto_aead_chacha20poly1305_ietf_decrypt,
    crypto_aead_chacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import CryptoError

from .errors import FrameAuthenticationFailed, FrameOutOfSequence, FrameTooLarge, MalformedFrame

MAX_PAYLOAD = 1 << 20  # 1 MiB of application data per frame
LENGTH = struct.Struct(">I")
SEQ = struct.Struct(">Q")
TAG_SIZE = crypto_aead_chacha20poly1305_ietf_ABYTES
SEAL_OVERHEAD = SEQ.size + TAG_SIZE
MAX_SEQ = (1 << 64) - 1


def max_body(max_payload: int = MAX_PAYLOAD) -> int:
    """The largest frame body a sealed payload of `max_payload` bytes needs."""
    return max_payload + SEAL_OVERHEAD


def encode_frame(body: bytes) -> bytes:
    """Prefix `body` with its length."""
    return LENGTH.pack(len(body)) + body


class FrameDecoder:
    """Splits received bytes into frame bodies, enforcing a size limit.

    Args:
        max_body: largest body accepted; can be changed between phases (the
            handshake uses a small limit, the data phase a large one).
    """

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self._buf = bytearray()

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes."""
        self._buf += data

    def next_frame(self) -> bytes | None:
        """Pop the next complete body, or None if more bytes are needed.

        Raises:
            FrameTooLarge: the next frame announces more than `max_body` bytes.
        """
        if len(self._buf) < LENGTH.size:
            return None
        (size,) = LENGTH.unpack_from(self._buf)
        if size > self.max_body:
            raise FrameTooLarge(size, self.max_body)
        end = LENGTH.size + size
        if len(self._buf) < end:
            return None
        body = bytes(self._buf[LENGTH.size:end])
        del self._buf[:end]
        return body

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a frame."""
        return len(self._buf)


def _nonce(seq: int) -> bytes:
    return b"\x00\x00\x00\x00" + SEQ.pack(seq)


class FrameSealer:
    """Encrypts outgoing payloads of one direction, numbering them 0, 1, 2, ..."""

    def __init__(self, key: bytes, max_payload: int = MAX_PAYLOAD) -> None:
        self._key = key
        self.max_payload = max_payload
        self.next_seq = 0

    def seal(self, payload: bytes) -> bytes:
        """The complete frame (length prefix included) carrying `payload`.

        Raises:
            FrameTooLarge: `payload` is larger than `max_payload`.
            MalformedFrame: the sequence space is exhausted (2**64 frames).
        """
        if len(payload) > self.max_payload:
            raise FrameTooLarge(len(payload), self.max_payload)
        if self.next_seq >= MAX_SEQ:
            raise MalformedFrame("frame sequence numbers exhausted; reconnect")
        header = SEQ.pack(self.next_seq)
        sealed = crypto_aead_chacha20poly1305_ietf_encrypt(
            bytes(payload), header, _nonce(self.next_seq), self._key)
        self.next_seq += 1
        return encode_frame(header + sealed)


class FrameOpener:
    """Decrypts incoming frame bodies of one direction, in order."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self.next_seq = 0

    def open(self, body: bytes) -> bytes:
        """The payload of the next frame.

        Raises:
            MalformedFrame: the body is shorter than a sequence number plus a tag.
            FrameOutOfSequence: not the frame expected next.
            FrameAuthenticationFailed: the ciphertext or header was altered.
        """
        if len(body) < SEAL_OVERHEAD:
            raise MalformedFrame(f"sealed frame of {len(body)} bytes is shorter than "
                                 f"its {SEAL_OVERHEAD}-byte overhead")
        (seq,) = SEQ.unpack_from(body)
        if seq != self.next_seq:
            raise FrameOutOfSequence(self.next_seq, seq)
        try:
            payload = crypto_aead_chacha20poly1305_ietf_decrypt(
                body[SEQ.size:], body[:SEQ.size], _nonce(seq), self._key)
        except CryptoError:
            raise FrameAuthenticationFailed(
                f"frame #{seq} failed authentication (tampered or wrong key)") from None
        self.next_seq += 1
        return payload
