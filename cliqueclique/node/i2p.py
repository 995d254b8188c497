"""Bring a node onto I2P through the local router's SAM bridge.

The destination keys live in the node's directory (`i2p.keys`, mode 0600) so
its I2P address survives restarts. Creating a SAM session takes about 20 s,
so it happens in the background: the node serves TCP meanwhile and adds its
I2P address once the session is up.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from ..errors import CliqueError
from ..net import I2PTransport, SamBridgeAddress, SamSession, load_or_create_keys
from ..net.errors import SamBridgeUnavailable

if TYPE_CHECKING:
    from .core import Node

log = logging.getLogger("cliqueclique.node")


async def start_i2p(node: Node, nursery: trio.Nursery) -> None:
    """Create the session and serve on it until the node stops.

    With `options.i2p` None (auto), a missing bridge just leaves I2P off.
    """
    required = node.options.i2p is True
    try:
        bridge = SamBridgeAddress.parse(node.options.sam)
        keys = await load_or_create_keys(node.local.directory / "i2p.keys", bridge)
        session = await SamSession.create(bridge, keys, options=node.options.i2p_tunnels or None)
    except SamBridgeUnavailable as e:
        level = logging.ERROR if required else logging.INFO
        log.log(level, "I2P is off: no SAM bridge at %s (%s)", node.options.sam, e)
        return
    except (CliqueError, OSError) as e:
        log.error("I2P is off: %s", e)
        return
    async with session:
        transport = I2PTransport(session)
        node.transports.add(transport)
        address = await nursery.start(transport.serve, node._accept)
        node.addresses.append(address)
        node.state.publish_status("addresses", [str(a) for a in node.addresses])  # for `invite` now
        log.info("reachable on I2P at %s", address)
        await trio.sleep_forever()
