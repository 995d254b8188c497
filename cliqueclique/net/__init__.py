"""Transports (memory, TCP, I2P SAM), framing, and the authenticated encrypted link.

The node driver uses:
- `parse_address` and the address classes, to read peers' addresses;
- a transport per scheme (`MemoryNetwork.transport`, `TcpTransport`,
  `I2PTransport` on a `SamSession`), grouped in `Transports`;
- `secure_connect` / `secure_accept`, which turn any stream into a
  `SecureChannel` to an authenticated peer.
"""

from .address import Address, I2PAddress, MemoryAddress, TcpAddress, parse_address
from .errors import NetError
from .framing import MAX_PAYLOAD
from .i2p import I2PTransport, load_or_create_keys
from .i2p_keys import I2PKeys, read_keys, write_keys
from .memory import MemoryNetwork, MemoryTransport
from .sam_client import SamBridgeAddress, SamSession, SamStream, create_sessions, dest_generate
from .secure import HANDSHAKE_TIMEOUT, SecureChannel, secure_accept, secure_connect, stream_source
from .tcp import TcpTransport
from .transport import StreamHandler, Transport, Transports

__all__ = [
    "HANDSHAKE_TIMEOUT", "MAX_PAYLOAD", "Address", "I2PAddress", "I2PKeys", "I2PTransport",
    "MemoryAddress", "MemoryNetwork", "MemoryTransport", "NetError", "SamBridgeAddress",
    "SamSession", "SamStream", "SecureChannel", "StreamHandler", "TcpAddress", "TcpTransport",
    "Transport", "Transports", "create_sessions", "dest_generate", "load_or_create_keys",
    "parse_address", "read_keys", "secure_accept", "secure_connect", "stream_source", "write_keys",
]
