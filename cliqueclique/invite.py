"""Invites: one copy-pastable string with a forum id and a peer that holds it.

    cq:<document id>@<peer node id>,<address>[,<address>...]

e.g. ``cq:3fa4...e1@9b0c...77,tcp:127.0.0.1:7000,i2p:abcd...xyz.b32.i2p``.
The peer's node id lets the joiner authenticate the peer it reaches; the
addresses say how to reach it (any transport we support, tried in order).
No spaces or shell metacharacters, so it survives chat clients and shells.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CliqueError
from .eventlog.codec import is_hex_id
from .net.address import Address, parse_address
from .net.errors import BadAddress

PREFIX = "cq:"


class BadInvite(CliqueError):
    """The text is not a valid invite."""


@dataclass(frozen=True)
class Invite:
    document: str
    peer: str
    addresses: tuple[Address, ...]

    def __str__(self) -> str:
        return f"{PREFIX}{self.document}@{self.peer}," + ",".join(str(a) for a in self.addresses)


def parse_invite(text: str) -> Invite:
    """Parse an invite string.

    Raises:
        BadInvite: with the reason (wrong prefix, bad ids, bad or no addresses).
    """
    text = text.strip()
    if not text.startswith(PREFIX):
        raise BadInvite(f"an invite starts with {PREFIX!r}: got {text[:20]!r}")
    ids, _, rest = text[len(PREFIX):].partition(",")
    document, _, peer = ids.partition("@")
    if not is_hex_id(document):
        raise BadInvite("the invite's document id is not a 64-character hex id")
    if not is_hex_id(peer):
        raise BadInvite("the invite's peer id is not a 64-character hex node id")
    if not rest:
        raise BadInvite("the invite has no peer address")
    try:
        addresses = tuple(parse_address(part) for part in rest.split(","))
    except BadAddress as e:
        raise BadInvite(f"bad address in invite: {e}") from None
    return Invite(document, peer, addresses)
