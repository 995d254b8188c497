"""Streaming compression of frame payloads, one stream per link direction (sans-IO).

Every payload a `SecureChannel` sends is compressed, then sealed (`framing.py`);
every frame it receives is opened, then decompressed. Theory of operation:

- Each direction of a link is one raw DEFLATE stream (RFC 1951, standard
  library `zlib`, no header or checksum: the AEAD tag already authenticates
  every byte). The sender ends each payload with ``Z_SYNC_FLUSH``, so a frame
  holds whole DEFLATE blocks ending on a byte boundary (the flush marker
  ``00 00 ff ff``) and the receiver inflates each frame completely as it
  arrives: one `send` is still one `receive`, nothing waits for a later frame.
- The window (`WINDOW_BITS`: 32 KiB, DEFLATE's largest) is shared by the frames of one direction,
  which is the point: what gossip sends again and again (author keys, the
  forum's id, JSON keys, ids announced then sent) costs a few bytes after its
  first time on the link. Compressing each frame alone would lose most of the
  gain (bench/gossip.py: about 820 bytes a delivered reply instead of about
  520; 1,150 uncompressed).
- A payload sent ``isolated=True`` neither refers to earlier frames nor is
  referred to by later ones (a ``Z_FULL_FLUSH`` before and after it), so its
  compressed size depends on nothing but itself. Nothing uses it yet; it is
  there for content that must not share a window with what others can inject
  (see the README, "Compression").
- Decompression is bounded: the inflater stops one byte past the frame limit
  (``max_length``) and the frame is refused with `DecompressedTooLarge`, so a
  small frame cannot expand into gigabytes. Input that is not valid DEFLATE,
  ends the stream, or stops between blocks is `MalformedCompression`. Both
  are `FramingError`s: the link is closed and the peer blamed like for any bad
  frame.

Memory: one compressor holds ``2**(WINDOW_BITS + 2) + 2**(MEMORY_LEVEL + 9)``
bytes (160 KiB), one decompressor ``2**WINDOW_BITS`` plus about 7 KiB: some
200 KiB a link, 50 MiB for 256 links. In bench/gossip.py an 8 KiB window cost
7% more bytes (16 KiB: 2%); zlib's default memory level (8) gained nothing.

The wire form is fixed by the handshake version (`handshake.VERSION` 2): a
version-1 node, which sends payloads uncompressed, is refused at the hello.
"""

from __future__ import annotations

import zlib

from .errors import DecompressedTooLarge, MalformedCompression

WINDOW_BITS = 15  # a 32 KiB window; the decompressor must use at least the sender's
MEMORY_LEVEL = 6  # zlib's hash table and symbol buffer: 2**(6 + 9) bytes
LEVEL = 6
FLUSH_MARKER = b"\x00\x00\xff\xff"  # how every sync or full flush ends


def max_compressed(max_payload: int) -> int:
    """The most bytes a payload of `max_payload` bytes can take compressed.

    Incompressible data goes into stored blocks of at least 2**(MEMORY_LEVEL + 6)
    bytes with 5 bytes of header each; the flushes add a few bytes more.
    """
    return max_payload + (max_payload >> 6) + 64


class FrameCompressor:
    """Compresses the payloads of one link direction, each into whole blocks."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(LEVEL, zlib.DEFLATED, -WINDOW_BITS, MEMORY_LEVEL)
        self._clean = True  # nothing sent yet can be referred to

    def compress(self, payload: bytes, *, isolated: bool = False) -> bytes:
        """The compressed form of `payload`, to send as one frame.

        Args:
            payload: the bytes the peer's `FrameDecompressor` gives back.
            isolated: compress it as if the stream started here, and let no later
                payload refer to it (its size then reveals nothing of other frames).
        """
        parts = []
        if isolated and not self._clean:
            parts.append(self._z.flush(zlib.Z_FULL_FLUSH))  # forget the earlier frames
        parts.append(self._z.compress(payload))
        parts.append(self._z.flush(zlib.Z_FULL_FLUSH if isolated else zlib.Z_SYNC_FLUSH))
        self._clean = isolated
        return b"".join(parts)


class FrameDecompressor:
    """Decompresses the frames of one link direction, refusing any that expand too far.

    Args:
        max_payload: the largest payload a frame may decompress to.
    """

    def __init__(self, max_payload: int) -> None:
        self.max_payload = max_payload
        self._z = zlib.decompressobj(-WINDOW_BITS)
        self._broken = False

    def decompress(self, data: bytes) -> bytes:
        """The payload carried by the next frame's compressed bytes.

        Raises:
            DecompressedTooLarge: it would decompress to more than `max_payload` bytes.
            MalformedCompression: not valid DEFLATE, not ending on a flush point, or
                after an earlier failure (the stream cannot be resumed).
        """
        if self._broken:
            raise MalformedCompression("the compressed stream already failed")
        if not data.endswith(FLUSH_MARKER):
            self._broken = True
            raise MalformedCompression("compressed frame does not end on a flush point")
        try:
            payload = self._z.decompress(data, self.max_payload + 1)
        except zlib.error as e:
            self._broken = True
            raise MalformedCompression(f"compressed frame is not valid DEFLATE: {e}") from None
        if len(payload) > self.max_payload:
            self._broken = True
            raise DecompressedTooLarge(self.max_payload)
        if self._z.eof or self._z.unused_data:
            self._broken = True
            raise MalformedCompression("the peer ended its compressed stream")
        return payload
