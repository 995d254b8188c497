"""Errors of the gossip machine, split as h11 and wsproto do.

`LocalProtocolError` is raised at once when the local caller misuses the API
(joining through a peer that is not connected, flags on an unknown document).
`RemoteProtocolError` is what a peer's bad input raises *inside* the machine;
`GossipNode.receive` catches it at the boundary and turns it into a
`PeerMisbehaved` app event, so it never escapes to the driver.
"""

from __future__ import annotations

from ..errors import CliqueError


class ProtocolError(CliqueError):
    """Base class of gossip protocol failures."""


class LocalProtocolError(ProtocolError):
    """The local application called the machine in a way it does not allow."""


class RemoteProtocolError(ProtocolError):
    """A peer sent something the protocol does not allow."""

    reason = "protocol violation"

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        super().__init__(str(self))

    def __str__(self) -> str:
        return self.reason + (f": {self.detail}" if self.detail else "")


class MalformedMessage(RemoteProtocolError):
    """The bytes are not a well-formed frame or message."""

    reason = "malformed message"


class MessageTooLarge(MalformedMessage):
    """The frame is larger than the protocol's size limit."""

    reason = "message too large"


class InvalidPeerEvent(RemoteProtocolError):
    """A peer sent an event that is malformed, forged or not allowed here."""

    reason = "invalid event"


class WrongDocument(RemoteProtocolError):
    """A peer sent something that does not belong to the document it names."""

    reason = "wrong document"


class AbsurdValue(RemoteProtocolError):
    """A distance, serial or count outside any plausible range."""

    reason = "absurd value"


class Unsolicited(RemoteProtocolError):
    """A peer keeps sending what nobody asked for (a flood)."""

    reason = "unsolicited input"
