"""Authenticated, encrypted links over any `trio.abc.Stream` (the trio side).

    channel = await secure_connect(stream, my_key, expected_peer_id)   # dialler
    channel = await secure_accept(stream, my_key)                      # listener
    await channel.send(b"...");  payload = await channel.receive();  channel.peer_id

Both run the handshake of `handshake.py` under a timeout, so a silent or slow
peer cannot hold a connection slot, then wrap the stream in a `SecureChannel`
that compresses every payload (`compress.py`: one DEFLATE stream per
direction) and seals it into one frame (see `framing.py`). A peer's bad input
(oversized, malformed, replayed, reordered or tampered frames, a frame that
decompresses past the payload limit, a failed handshake) raises the specific
`NetError`, logs the reason, and closes the link; nothing of the bad frame is
returned.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio
from nacl.signing import SigningKey

from .errors import (
    FrameTooLarge,
    FramingError,
    HandshakeClosed,
    HandshakeError,
    HandshakeTimeout,
    MalformedHandshake,
    TruncatedFrame,
)
from .compress import FrameCompressor, FrameDecompressor, max_compressed
from .framing import MAX_PAYLOAD, FrameDecoder, FrameOpener, FrameSealer, encode_frame, max_body
from .handshake import MAX_MESSAGE, HandshakeResult, Initiator, Responder
from .loglimit import LimitedLog

HANDSHAKE_TIMEOUT = 30.0  # I2P round trips can take seconds; a TCP handshake takes milliseconds
RECEIVE_SIZE = 64 * 1024
log = logging.getLogger(__name__)
#: failed handshakes are logged a few per source and per minute (anyone can cause them)
handshake_failures = LimitedLog(log, "refused handshakes")


def stream_source(stream: trio.abc.Stream, who: str = "unknown") -> str:
    """Where a stream comes from, for rate-limiting: an I2P destination, a TCP host."""
    peer = getattr(stream, "peer", None)
    if peer is not None:
        return str(peer)[:60]
    socket = getattr(stream, "socket", None)
    try:
        return str(socket.getpeername()[0]) if socket is not None else who
    except OSError:
        return who


async def _read_frame(stream: trio.abc.Stream, decoder: FrameDecoder) -> bytes:
    """The next frame body; `trio.EndOfChannel` on a clean end of stream."""
    while (body := decoder.next_frame()) is None:
        data = await stream.receive_some(RECEIVE_SIZE)
        if not data:
            if decoder.buffered:
                raise TruncatedFrame(f"stream ended inside a frame ({decoder.buffered} bytes)")
            raise trio.EndOfChannel
        decoder.feed(data)
    return body


class SecureChannel(trio.abc.Channel[bytes]):
    """A link to one authenticated peer; each `send` is delivered as one `receive`.

    `receive` raises `trio.EndOfChannel` when the peer closed cleanly, and
    `trio.BrokenResourceError` when the connection broke. Like any trio channel
    it supports ``async for payload in channel``. One task may send while
    another receives; concurrent sends are serialised.
    """

    def __init__(self, stream: trio.abc.Stream, result: HandshakeResult, decoder: FrameDecoder,
                 max_payload: int = MAX_PAYLOAD) -> None:
        self.stream = stream
        self.peer_id = result.peer_id
        self.transcript = result.transcript
        self.max_payload = max_payload
        self._sealer = FrameSealer(result.send_key, max_compressed(max_payload))
        self._opener = FrameOpener(result.receive_key)
        self._compressor = FrameCompressor()
        self._decompressor = FrameDecompressor(max_payload)
        self._decoder = decoder
        decoder.max_body = max_body(max_compressed(max_payload))
        self._send_lock = trio.Lock()
        self._closed = False
        self.failure: FramingError | None = None  # the peer's bad frame that closed the link

    async def send(self, value: bytes, *, isolated: bool = False) -> None:
        """Compress `value`, seal it into one frame and send it.

        Args:
            value: the payload; the peer's `receive` returns exactly these bytes.
            isolated: compress it without reference to earlier frames, and keep later
                frames from referring to it (see `compress.py`): for content whose
                compressed size must not depend on what else crossed the link.

        Raises:
            FrameTooLarge: `value` is larger than `max_payload` (nothing is sent).
            trio.ClosedResourceError: the channel was closed.
            trio.BrokenResourceError: the connection broke.
        """
        if self._closed:
            raise trio.ClosedResourceError("secure channel is closed")
        if len(value) > self.max_payload:
            raise FrameTooLarge(len(value), self.max_payload)
        async with self._send_lock:
            # From here the compressor's state includes `value`: whatever goes wrong,
            # the frame must go out or the link must close.
            frame = self._sealer.seal(self._compressor.compress(value, isolated=isolated))
            try:
                await self.stream.send_all(frame)
            except trio.Cancelled:
                # a partly written frame would desynchronise the peer: the link is done
                await self._abort("send cancelled in the middle of a frame", logging.INFO)
                raise

    async def receive(self) -> bytes:
        """The next payload from the peer.

        Raises:
            trio.EndOfChannel: the peer closed the link cleanly.
            FramingError: oversized, truncated, malformed, out-of-sequence or tampered
                frame, or one that decompresses past `max_payload`
                (`DecompressedTooLarge`); the link is closed and the reason logged.
            trio.ClosedResourceError: the channel was closed.
            trio.BrokenResourceError: the connection broke.
        """
        if self._closed:
            raise trio.ClosedResourceError("secure channel is closed")
        try:
            sealed = await _read_frame(self.stream, self._decoder)
            return self._decompressor.decompress(self._opener.open(sealed))
        except FramingError as e:
            # Kept before closing: the close may cancel the reader (a sender
            # sees the closed stream first), and the owner must still learn why.
            self.failure = e
            await self._abort(f"{type(e).__name__}: {e}")
            raise

    async def _abort(self, reason: str, level: int = logging.WARNING) -> None:
        log.log(level, "closing link to %s: %s", self.peer_id[:16], reason)
        self._closed = True
        await trio.aclose_forcefully(self.stream)

    async def aclose(self) -> None:
        """Close the link (the peer's `receive` then raises `trio.EndOfChannel`)."""
        self._closed = True
        await self.stream.aclose()


async def _handshake_message(stream: trio.abc.Stream, decoder: FrameDecoder) -> bytes:
    try:
        return await _read_frame(stream, decoder)
    except FrameTooLarge as e:
        raise MalformedHandshake(f"handshake message of {e.size} bytes is too large") from None
    except (trio.EndOfChannel, TruncatedFrame):
        raise HandshakeClosed("peer closed the connection during the handshake") from None


async def _send_message(stream: trio.abc.Stream, message: bytes) -> None:
    await stream.send_all(encode_frame(message))


async def _guarded(
    stream: trio.abc.Stream, steps: Callable[[], Awaitable[HandshakeResult]],
    timeout: float, who: str,
) -> HandshakeResult:
    """Run the handshake steps under a deadline; on any failure close the stream."""
    try:
        try:
            with trio.fail_after(timeout):
                return await steps()
        except trio.TooSlowError:
            raise HandshakeTimeout(f"no complete handshake within {timeout:g}s") from None
        except trio.BrokenResourceError:
            raise HandshakeClosed("connection broke during the handshake") from None
    except BaseException as e:
        if isinstance(e, HandshakeError):
            source = stream_source(stream, who)
            where = "" if source == who else f" from {source}"
            handshake_failures.warning(source, "handshake with %s failed: %s: %s%s",
                                       who, type(e).__name__, e, where)
        await trio.aclose_forcefully(stream)
        raise


async def secure_connect(
    stream: trio.abc.Stream, key: SigningKey, expected_peer_id: str, *,
    timeout: float = HANDSHAKE_TIMEOUT, max_payload: int = MAX_PAYLOAD,
) -> SecureChannel:
    """Authenticate as the dialling side and return the encrypted channel.

    Args:
        stream: a fresh stream from any transport (closed on failure).
        key: our node key.
        expected_peer_id: the node id we mean to reach; any other fails.
        timeout: seconds allowed for the whole handshake.
        max_payload: largest payload per frame, both ways (both sides must agree).

    Returns:
        The channel; its `peer_id` equals `expected_peer_id`.

    Raises:
        WrongPeer: the peer proved another node id.
        BadHandshakeSignature: the peer claims a key it cannot sign with.
        HandshakeDecryptionFailed, MalformedHandshake, WeakEphemeralKey: bad handshake data.
        HandshakeTimeout, HandshakeClosed: the peer was silent too long or hung up.
    """
    initiator = Initiator(key, expected_peer_id)
    decoder = FrameDecoder(MAX_MESSAGE)

    async def steps() -> HandshakeResult:
        await _send_message(stream, initiator.hello())
        finish = initiator.receive_reply(await _handshake_message(stream, decoder))
        await _send_message(stream, finish)
        assert initiator.result is not None
        return initiator.result

    result = await _guarded(stream, steps, timeout, expected_peer_id[:16])
    return SecureChannel(stream, result, decoder, max_payload)


async def secure_accept(
    stream: trio.abc.Stream, key: SigningKey, *,
    timeout: float = HANDSHAKE_TIMEOUT, max_payload: int = MAX_PAYLOAD, who: str = "incoming peer",
) -> SecureChannel:
    """Authenticate as the accepting side and return the encrypted channel.

    Args:
        stream: a freshly accepted stream (closed on failure).
        key: our node key.
        timeout: seconds allowed for the whole handshake.
        max_payload: largest payload per frame, both ways.
        who: how to name the peer in log lines (e.g. its transport address).

    Returns:
        The channel; `peer_id` is the node id the peer proved.

    Raises:
        BadHandshakeSignature: the peer claims a key it cannot sign with.
        HandshakeDecryptionFailed: replayed or tampered finish message.
        MalformedHandshake, UnsupportedHandshakeVersion, WeakEphemeralKey: bad hello.
        HandshakeTimeout, HandshakeClosed: the peer was silent too long or hung up.
    """
    responder = Responder(key)
    decoder = FrameDecoder(MAX_MESSAGE)

    async def steps() -> HandshakeResult:
        reply = responder.receive_hello(await _handshake_message(stream, decoder))
        await _send_message(stream, reply)
        return responder.receive_finish(await _handshake_message(stream, decoder))

    result = await _guarded(stream, steps, timeout, who)
    return SecureChannel(stream, result, decoder, max_payload)
