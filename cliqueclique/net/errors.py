"""Every failure of the network layer, one class each.

All derive from `NetError` (itself a `CliqueError`), so the node driver can
catch "anything a peer or the network did to us" with one clause and still
tell the cases apart for logging and back-off. A peer's bad input raises one of
these and changes nothing; the link it came from is then closed.
"""

from __future__ import annotations

from ..errors import CliqueError


class NetError(CliqueError):
    """Base class of every network-layer failure."""


# --- addresses and transports ----------------------------------------------------


class BadAddress(NetError):
    """A transport address string could not be parsed."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        shown = self.text if len(self.text) <= 80 else self.text[:77] + "..."
        return f"bad address {shown!r}: {self.reason}"


class NoTransport(NetError):
    """No configured transport handles this kind of address."""


class ConnectFailed(NetError):
    """The transport could not open a stream to the address."""


class ListenFailed(NetError):
    """The transport could not start serving (address in use, no permission)."""


# --- framing -----------------------------------------------------------------------


class FramingError(NetError):
    """The byte stream does not split into valid frames."""


class FrameTooLarge(FramingError):
    """A frame header announces more bytes than the size limit allows."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"frame of {size} bytes exceeds the limit of {limit}")


class TruncatedFrame(FramingError):
    """The stream ended in the middle of a frame."""


class MalformedFrame(FramingError):
    """A frame is too short or otherwise not shaped like a frame of this link."""


class FrameOutOfSequence(FramingError):
    """A frame's sequence number is not the next one expected (replayed, lost or reordered)."""

    def __init__(self, expected: int, got: int) -> None:
        self.expected = expected
        self.got = got
        super().__init__(f"frame out of sequence: expected #{expected}, got #{got}")


class FrameAuthenticationFailed(FramingError):
    """A frame failed decryption: it was tampered with or not sealed with this link's key."""


class DecompressedTooLarge(FramingError):
    """A compressed frame would expand past the payload limit (a decompression bomb)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"compressed frame expands past the limit of {limit} bytes")


class MalformedCompression(FramingError):
    """A frame's compressed bytes are not a valid continuation of the link's stream."""


# --- handshake -------------------------------------------------------------------------


class HandshakeError(NetError):
    """The authenticated handshake did not complete; the link is closed."""


class HandshakeTimeout(HandshakeError):
    """The peer did not complete the handshake in time."""


class HandshakeClosed(HandshakeError):
    """The peer closed the connection during the handshake."""


class MalformedHandshake(HandshakeError):
    """A handshake message has the wrong size or shape."""


class UnsupportedHandshakeVersion(HandshakeError):
    """The peer speaks a handshake protocol version we do not."""


class HandshakeDecryptionFailed(HandshakeError):
    """A handshake message did not decrypt: replayed, tampered, or from a man in the middle."""


class BadHandshakeSignature(HandshakeError):
    """The peer's signature does not verify: it does not own the node key it claims."""


class WeakEphemeralKey(HandshakeError):
    """The peer's ephemeral key is a low-order point that would give a predictable secret."""


class WrongPeer(HandshakeError):
    """The peer proved a node id other than the one we dialled."""

    def __init__(self, expected: str, actual: str) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"expected node {expected[:16]}..., but the peer is {actual[:16]}...")


class LocalHandshakeError(HandshakeError):
    """The local side used the handshake API wrongly (a bug, not the peer's fault)."""


# --- I2P SAM -----------------------------------------------------------------------


class SamError(NetError):
    """The SAM bridge refused a command (base of one class per RESULT= code)."""

    code = "?"

    def __init__(self, message: str = "", reply: str = "") -> None:
        self.message = message
        self.reply = reply
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"SAM {self.code}"
        return f"{text}: {self.message}" if self.message else text


class SamCantReachPeer(SamError):
    """CANT_REACH_PEER: the destination exists but could not be reached (yet)."""

    code = "CANT_REACH_PEER"


class SamDuplicatedDest(SamError):
    """DUPLICATED_DEST: this destination already has a session on the router."""

    code = "DUPLICATED_DEST"


class SamDuplicatedId(SamError):
    """DUPLICATED_ID: a session with this nickname already exists."""

    code = "DUPLICATED_ID"


class SamI2PError(SamError):
    """I2P_ERROR: a generic router-side failure."""

    code = "I2P_ERROR"


class SamInvalidId(SamError):
    """INVALID_ID: no session has this nickname."""

    code = "INVALID_ID"


class SamInvalidKey(SamError):
    """INVALID_KEY: the destination or key is malformed."""

    code = "INVALID_KEY"


class SamKeyNotFound(SamError):
    """KEY_NOT_FOUND: the name could not be resolved."""

    code = "KEY_NOT_FOUND"


class SamPeerNotFound(SamError):
    """PEER_NOT_FOUND: the peer cannot be found on the network."""

    code = "PEER_NOT_FOUND"


class SamTimeout(SamError):
    """TIMEOUT: the router gave up waiting, or this client gave up waiting for a reply."""

    code = "TIMEOUT"


class SamNoVersion(SamError):
    """NOVERSION: the bridge speaks none of the SAM versions we asked for."""

    code = "NOVERSION"


class SamAlreadyAccepting(SamError):
    """ALREADY_ACCEPTING: another STREAM ACCEPT is pending on this session."""

    code = "ALREADY_ACCEPTING"


class SamLeaseSetNotFound(SamError):
    """LEASESET_NOT_FOUND: the destination's LeaseSet could not be found."""

    code = "LEASESET_NOT_FOUND"


class SamUnknownResult(SamError):
    """The bridge answered with a RESULT= code this client does not know."""

    def __init__(self, code: str, message: str = "", reply: str = "") -> None:
        self.code = code
        super().__init__(message, reply)


SAM_RESULT_ERRORS: dict[str, type[SamError]] = {
    cls.code: cls
    for cls in (
        SamCantReachPeer, SamDuplicatedDest, SamDuplicatedId, SamI2PError, SamInvalidId,
        SamInvalidKey, SamKeyNotFound, SamPeerNotFound, SamTimeout, SamNoVersion,
        SamAlreadyAccepting, SamLeaseSetNotFound,
    )
}


class SamProtocolError(NetError):
    """The bridge sent something that is not a valid SAM reply (or an unexpected one)."""


class SamBridgeUnavailable(NetError):
    """The SAM bridge could not be reached or closed the connection unexpectedly."""


class SamCommandError(NetError):
    """A SAM command could not be built from the given values (local misuse)."""


class I2PKeyFileError(NetError):
    """An I2P destination key file is missing, unreadable, too open or malformed."""
