"""Per-document gossip: the sans-IO protocol machine and its deterministic simulator.

`GossipNode` is the machine a driver runs (see node.py for the contract and
protocol.py for the theory of operation); `SimNetwork` runs many of them in
virtual time for tests and benchmarks.
"""

from .errors import (
    AbsurdValue,
    InvalidPeerEvent,
    LocalProtocolError,
    MalformedMessage,
    MessageTooLarge,
    ProtocolError,
    RemoteProtocolError,
    Unsolicited,
    WrongDocument,
)
from .messages import MAX_FRAME
from .node import GossipNode
from .outputs import (
    AppEvent,
    BlockList,
    CenterChanged,
    DocumentDropped,
    DocumentHeld,
    EventAccepted,
    EventCodec,
    GossipConfig,
    PeerMisbehaved,
    PeerSuggested,
    Policy,
    StoreEvents,
)
from .protocol import DocumentProtocol
from .records import DocumentInfo, GossipStats, PeerProgress, Progress
from .states import DocState, LinkState

__all__ = [
    "MAX_FRAME", "AbsurdValue", "AppEvent", "BlockList", "CenterChanged", "DocState",
    "DocumentDropped", "DocumentHeld", "DocumentInfo", "DocumentProtocol", "EventAccepted",
    "EventCodec", "GossipConfig", "GossipNode", "GossipStats", "InvalidPeerEvent", "LinkState",
    "LocalProtocolError", "MalformedMessage", "MessageTooLarge", "PeerMisbehaved", "PeerProgress",
    "PeerSuggested", "Policy", "Progress", "ProtocolError", "RemoteProtocolError", "StoreEvents",
    "Unsolicited", "WrongDocument",
]
