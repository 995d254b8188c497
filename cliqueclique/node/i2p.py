"""Bring a node onto I2P through the local router's SAM bridge.

The destination keys live in the node's directory (`i2p.keys`, mode 0600) so
its I2P address survives restarts. Creating a SAM session takes about 20 s,
so it happens in the background: the node serves TCP meanwhile and adds its
I2P address once the session is up.

i2pd (2.45.1 at least) destroys the destination of a closed SAM session 5 s
after the close. A session created for the same keys before then is handed the
dying destination: it stops answering a few seconds later, and the router then
cannot host those keys again until it restarts. So the session records that it
is alive (every second, and when it ends), and a node restarted at once (or
after a crash) waits until its previous session has been gone `SESSION_RELEASE`
seconds before it asks for a new one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from ..errors import CliqueError, NodeError
from ..net import I2PTransport, SamBridgeAddress, SamSession, load_or_create_keys
from ..net.errors import SamBridgeUnavailable
from ..nodestate import NodeState

if TYPE_CHECKING:
    from .core import Node

log = logging.getLogger("cliqueclique.node")
SESSION_RELEASE = 7.0  # seconds: i2pd lets go of a closed session's destination after 5
ALIVE = "i2p_session_alive"  # status key: when this node's session was last known to be up


async def start_i2p(node: Node, nursery: trio.Nursery) -> None:
    """Create the session and serve on it until the node stops.

    With `options.i2p` None (auto), a missing bridge just leaves I2P off.
    """
    required = node.options.i2p is True
    try:
        bridge = SamBridgeAddress.parse(node.options.sam)
        keys = await load_or_create_keys(node.local.directory / "i2p.keys", bridge)
        await _after_previous_session(node)
        session = await SamSession.create(bridge, keys, options=node.options.i2p_tunnels or None)
    except SamBridgeUnavailable as e:
        if required:  # asked for I2P: stop the node with one clear reason
            raise NodeError(f"I2P is required but no SAM bridge answers at {node.options.sam} ({e})") from None
        log.info("I2P is off: no SAM bridge at %s (%s)", node.options.sam, e)
        return
    except (CliqueError, OSError) as e:
        if required:
            raise NodeError(f"I2P is required but cannot start: {e}") from None
        log.error("I2P is off: %s", e)
        return
    async with session:
        transport = I2PTransport(session)
        node.transports.add(transport)
        address = await nursery.start(transport.serve, node._accept)
        node.addresses.append(address)
        node.state.publish_status("addresses", [str(a) for a in node.addresses])  # for `invite` now
        node._next_dial.clear()  # peers only I2P reaches: dial them now, not after the back-off
        log.info("reachable on I2P at %s", address)
        await _record_alive(node)


async def _after_previous_session(node: Node) -> None:
    found = node.state.read_status(ALIVE)
    if found is not None and found[1] < SESSION_RELEASE:
        wait = SESSION_RELEASE - max(0.0, found[1])
        log.info("waiting %.1fs for the router to let go of this node's previous I2P session", wait)
        await trio.sleep(wait)


async def _record_alive(node: Node) -> None:
    """Until cancelled, note every second (and at the end) that the session is up."""
    state = NodeState(node.local.log_path)  # written from a thread: the loop must not wait on locks
    try:
        while True:
            await trio.to_thread.run_sync(state.publish_status, ALIVE, True)
            await trio.sleep(1.0)
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(state.publish_status, ALIVE, True)
        state.close()
