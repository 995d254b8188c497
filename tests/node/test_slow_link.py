"""A join over a slow link (issue 13): two `serve` processes with the shaping
proxy (shapingproxy.py) between them, 200 ms round trip and 4 Mbit/s each way.
The join completes, and the proxy's counts are sane: what went down is about
the forum once (not twice over), and the join waited on a handful of round
trips, not one per event or per chunk. No timing is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from cliqueclique.invite import Invite, parse_invite
from cliqueclique.net.address import parse_address

from .harness import Serve, cli, log_ids, make_forum, seed_node
from .shapingproxy import ShapingProxyProcess

EVENTS = 500


@pytest.mark.slow
def test_join_through_a_slow_link(tmp_path: Path) -> None:
    root, wires = make_forum(EVENTS)
    seed_node(tmp_path / "a", "a", root, wires)
    cli(tmp_path / "b", "init")
    a = Serve(tmp_path / "a")
    b = Serve(tmp_path / "b")
    try:
        direct = parse_invite(cli(tmp_path / "a", "invite", root).stdout.strip())
        port = int(str(direct.addresses[0]).rsplit(":", 1)[1])
        with ShapingProxyProcess(port, delay_ms=100, kbps=4000) as proxy:
            invite = Invite(root, direct.peer, (parse_address(f"tcp:127.0.0.1:{proxy.port}"),))
            cli(tmp_path / "b", "join", "--timeout", "60", str(invite))
            b.wait_for(set(log_ids(tmp_path / "a", "--doc", root)))
            stats = proxy.stats()
    finally:
        a.stop()
        b.stop()
    forum_bytes = sum(len(w) for w in wires)
    # down: the forum once, framed, encrypted and maybe compressed; nothing sent twice over
    assert forum_bytes / 10 < stats["down_bytes"] < 1.5 * forum_bytes + 50_000
    assert stats["up_bytes"] < stats["down_bytes"] / 2  # acks and vectors, not events
    assert stats["connections"] == 1
    # the connection, the handshake, the join's update and the vector; a few more
    # for what follows (digests settling, acks), never one per event or chunk
    assert 4 <= stats["round_trips"] <= 12
