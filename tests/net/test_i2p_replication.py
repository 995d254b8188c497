"""Real I2P: `cliqueclique serve` nodes on different i2pd routers replicate a forum over SAM.

A private I2P network (`i2p_testnet`: 1 floodfill and 3 routers with a SAM
bridge) runs in a network namespace this test creates; nodes A, B and C run as
`serve` processes inside it, each on its own router. A posts a forum, B and C
join it with an invite holding only A's I2P address, and replies flow every
way. Then B is restarted twice (SIGTERM, then `serve` again on the same home),
keeping its I2P address each time:

* at once: B's router still holds B's destination for 5 s after the old session
  closed, and i2pd 2.45.1 would hand that dying destination to a new session
  (which goes deaf seconds later, and the router then never hosts those keys
  again: the second restart would hang). The node waits that out itself
  (`cliqueclique.node.i2p.SESSION_RELEASE`); this order of restarts checks it.
* after the router has dropped B's destination: B gets new tunnels and a new
  LeaseSet while A still caches the old one (A cannot reach B until B dials A,
  which a restarted node does, at once once its session is up).

Each time, what A posted while B was down reaches B, and B's new reply reaches
A and C. Every wait is on a line the nodes print (`--events`, `listening on`),
except the wait for the router to drop B's destination, which polls its web
console (the router announces nothing).

Nobody dials B (it dials A, and accepted links leave no address behind), and
that is on purpose: i2pd 2.45.1 can crash ("malloc(): unsorted double linked
list corrupted", after "Streaming: Pending incoming timeout expired") when a
stream arrives for a destination whose SAM session has just closed, which is
what dialling a node that is restarting does.

Needs the Debian package i2pd (CI installs it); without it the test fails with
a message saying so, it is never skipped. Takes about 2 minutes: ~6 s for
the routers, 20 s for the three first SAM sessions (created in parallel, one
per `serve`), then for each restart ~7 s for the router to drop B's
destination and 20 s for B's new session.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from i2p_testnet import SESSION_OPTIONS, I2PTestnet

from cliqueclique.invite import Invite, parse_invite
from cliqueclique.net import I2PAddress, parse_address
from tests.node.harness import Serve, cli, log_ids

TUNNELS = [arg for name, value in SESSION_OPTIONS.items() for arg in ("--i2p-option", f"{name}={value}")]

# Run inside the namespace: does the router's console list the destination (`held`), or
# wait until it does not (`released`)? Polls: the router announces nothing.
ROUTER_HOLDS = """
import sys, time, urllib.request
url, b32, mode = sys.argv[1:4]
def held():
    with urllib.request.urlopen(url, timeout=5) as page:
        return b32 in page.read().decode("utf-8", "replace")
if mode == "held":
    sys.exit(0 if held() else f"the router does not list {b32}")
deadline = time.monotonic() + 60
while held():
    if time.monotonic() > deadline:
        sys.exit(f"the router still holds {b32} after 60 s")
    time.sleep(0.5)
"""


def step(started: float, what: str) -> None:
    """Where the test is (shown when it fails)."""
    print(f"[{time.monotonic() - started:6.1f}s] {what}", flush=True)


def i2p_serve(net: I2PTestnet, home: Path, sam_port: int) -> Serve:
    """`serve --events` inside the test net's namespace, on I2P through that SAM bridge."""
    return Serve(home, "--no-web", *TUNNELS, prefix=net.command([]), sam=f"127.0.0.1:{sam_port}")


def router_holds(net: I2PTestnet, sam_port: int, address: str, mode: str) -> None:
    """Check (`held`) or wait until not (`released`) the router of `sam_port` holds `address`."""
    console = next(r["http_port"] for r in net.info["routers"] if r["sam_port"] == sam_port)
    i2p = parse_address(address)
    assert isinstance(i2p, I2PAddress)
    done = net.run([sys.executable, "-c", ROUTER_HOLDS,
                    f"http://127.0.0.1:{console}/?page=local_destinations", i2p.b32[:20], mode],
                   timeout=90)
    assert done.returncode == 0, done.stderr


def i2p_only(document: str, node: Serve, address: str) -> str:
    """An invite to `document` through `node` that names its I2P address alone."""
    return str(Invite(document, node.node_id, (parse_address(address),)))


def forum_ids(home: Path, root: str) -> set[str]:
    """Ids of the forum's events (root, replies, links), subscriptions aside."""
    events = [json.loads(line) for line in cli(home, "log", "--json").stdout.splitlines()]
    replies = {e["body"]["child"] for e in events if e["kind"] == "link" and e["network"] == root}
    return {e["id"] for e in events if e["network"] in replies | {root} and e["kind"] != "subscription"}


def reply(home: Path, root: str, text: str) -> str:
    return cli(home, "post", "-s", text, "-b", f"{text}, over I2P", "--parent", root).stdout.strip()


def peers(home: Path) -> dict[str, dict[str, object]]:
    return {p["id"]: p for p in map(json.loads, cli(home, "peers", "--json").stdout.splitlines())}


@pytest.mark.slow
def test_nodes_on_different_routers_replicate_a_forum_over_i2p(tmp_path: Path) -> None:
    homes = [tmp_path / name for name in "abc"]
    home_a, home_b, home_c = homes
    for home in homes:
        cli(home, "init", "--name", home.name)
    started = time.monotonic()
    with I2PTestnet.start(tmp_path / "net", routers=4, floodfills=1) as net:
        step(started, f"test net ready: {net.info['routers']}")
        sam_b = net.sam_ports[1]  # three SAM routers, one per node; the floodfill carries no SAM
        nodes: list[Serve] = []
        try:
            for home, sam in zip(homes, net.sam_ports):
                nodes.append(i2p_serve(net, home, sam))
            a, b, c = nodes  # each creates its SAM session (~20 s), all at the same time
            a_i2p, b_i2p, c_i2p = (node.wait_for_address("i2p") for node in nodes)
            assert len({a_i2p, b_i2p, c_i2p}) == 3
            step(started, "A, B and C are on I2P")

            # A's forum; B and C join through A, by its I2P address alone.
            root = cli(home_a, "post", "-s", "Forum over I2P", "-b", "welcome").stdout.strip()
            assert parse_address(a_i2p) in parse_invite(cli(home_a, "invite", root).stdout).addresses
            cli(home_b, "join", i2p_only(root, a, a_i2p))
            b.wait_for({root})
            from_b = reply(home_b, root, "b 1")
            a.wait_for({from_b})
            from_a = reply(home_a, root, "a 1")
            b.wait_for({from_a})
            assert peers(home_b)[a.node_id]["addresses"] == [a_i2p]  # all B knows of A
            cli(home_c, "join", i2p_only(root, a, a_i2p))
            c.wait_for({root, from_a, from_b})
            from_c = reply(home_c, root, "c 1")
            a.wait_for({from_c})
            b.wait_for({from_c})
            posted = {root, from_a, from_b, from_c}
            step(started, "B and C joined, replies went every way")
            # A was only dialled, yet learnt where to dial B and C back.
            assert b_i2p in peers(home_a)[b.node_id]["addresses"]
            assert c_i2p in peers(home_a)[c.node_id]["addresses"]

            for restart in ("at once", "once the router dropped B"):
                b.stop()  # SIGTERM: a clean shutdown
                if restart != "at once":
                    router_holds(net, sam_b, b_i2p, "released")  # B's tunnels and LeaseSet are gone
                while_down = reply(home_a, root, f"a while b is down, restart {restart}")
                c.wait_for({while_down})
                step(started, f"B stopped; restart {restart}")
                nodes[1] = b = i2p_serve(net, home_b, sam_b)
                assert b.wait_for_address("i2p") == b_i2p  # same keys (kept in B's home), same address
                router_holds(net, sam_b, b_i2p, "held")
                step(started, "B is back on I2P at the same address")
                b.wait_for({while_down})  # B dialled A over I2P again and caught up
                after = reply(home_b, root, f"b after a restart {restart}")
                a.wait_for({after})
                c.wait_for({after})
                posted |= {while_down, after}
                step(started, "B caught up, its new reply reached A and C")

            for node in nodes:
                node.wait_for(posted - set(log_ids(node.home)))
        finally:
            for node in nodes:
                node.stop()
    for home in homes:
        assert "ok:" in cli(home, "verify").stdout
        assert posted <= forum_ids(home, root)
    assert forum_ids(home_a, root) == forum_ids(home_b, root) == forum_ids(home_c, root)
