"""Peer suggestions are bounded per link and document, and only a link may make them."""

from __future__ import annotations

from nacl.signing import SigningKey

from cliqueclique.gossip.messages import Reachable, Suggest, decode_frame, encode_frames
from cliqueclique.gossip.outputs import PeerMisbehaved, PeerReachable, PeerSuggested
from cliqueclique.gossip.sim import SimNetwork
from cliqueclique.gossip.suggestions import SUGGESTION_INTERVAL, SUGGESTIONS_PER_LINK

from .helpers import fast_config, join_all, start_forum


def made_up(n: int) -> list[str]:
    return [SigningKey.generate().verify_key.encode().hex() for _ in range(n)]


def pair() -> tuple[SimNetwork, str]:
    sim = SimNetwork(seed=3, config=fast_config)
    sim.add_nodes(3)
    root = start_forum(sim)
    join_all(sim, root, [1])
    sim.connect(0, 2)  # connected, but holds nothing: not a link of the document
    sim.run_until(sim.now + 2.0)
    return sim, root


def suggest(sim: SimNetwork, frm: int, to: int, doc: str, peers: list[str], now: float) -> list[object]:
    victim = sim.nodes[to].gossip
    assert victim is not None
    victim.events()  # what came before
    for frame in encode_frames([Suggest(doc, p, "tcp:127.0.0.1:9") for p in peers]):
        victim.receive(sim.nodes[frm].node_id, frame, now)
    return victim.events()


def test_a_flood_of_suggestions_costs_the_sender_one_report() -> None:
    sim, root = pair()
    events = suggest(sim, 1, 0, root, made_up(1_000), sim.now)
    suggested = [e for e in events if isinstance(e, PeerSuggested)]
    reports = [e for e in events if isinstance(e, PeerMisbehaved)]
    assert len(suggested) == SUGGESTIONS_PER_LINK
    assert {e.source for e in suggested} == {sim.nodes[1].node_id}
    assert [(e.peer, e.doc) for e in reports] == [(sim.nodes[1].node_id, root)]
    # Within the interval, more only costs the sender; the next interval has a fresh budget.
    assert not any(isinstance(e, PeerSuggested) for e in suggest(sim, 1, 0, root, made_up(5), sim.now + 1))
    later = suggest(sim, 1, 0, root, made_up(5), sim.now + SUGGESTION_INTERVAL + 1)
    assert len([e for e in later if isinstance(e, PeerSuggested)]) == 5


def test_only_a_link_of_the_document_may_suggest_and_not_itself() -> None:
    sim, root = pair()
    assert suggest(sim, 2, 0, root, made_up(3), sim.now) == []  # node 2 shares nothing with us
    assert suggest(sim, 1, 0, root, [sim.nodes[1].node_id], sim.now) == []  # suggesting itself


def test_a_peer_that_dialled_in_is_suggested_at_the_port_it_says_it_listens_on() -> None:
    """A caller's source port is not where it listens: `Reachable` tells, and only
    fills an address the driver did not know (it may never replace one)."""
    sim, _ = pair()
    node = sim.nodes[0].gossip
    assert node is not None
    newcomer, known = made_up(2)
    node.peer_connected(newcomer, sim.now)  # dialled in over TCP: no address known
    node.peer_connected(known, sim.now, "tcp:192.0.2.7:7000")
    node.events()
    for peer in (newcomer, known):
        node.receive(peer, encode_frames([Reachable(7123)])[0], sim.now)
    node.receive(newcomer, encode_frames([Reachable(0)])[0], sim.now)  # not listening: nothing
    assert node.events() == [PeerReachable(newcomer, 7123)]
    node.set_hint(newcomer, "tcp:192.0.2.9:7123", sim.now)  # what the driver makes of it
    node.set_hint(known, "tcp:198.51.100.1:1", sim.now)  # ignored: it had one
    assert node.hint(newcomer) == "tcp:192.0.2.9:7123" and node.hint(known) == "tcp:192.0.2.7:7000"


def test_a_node_that_listens_says_so_on_tcp_links_only() -> None:
    sim, _ = pair()
    node = sim.nodes[0].gossip
    assert node is not None
    node.messages_to_send()
    tcp, i2p = made_up(2)
    node.peer_connected(tcp, sim.now, tcp_port=7555)
    node.peer_connected(i2p, sim.now, "i2p:" + "a" * 52 + ".b32.i2p")  # the driver gives no port
    sent: dict[str, list[object]] = {tcp: [], i2p: []}
    for to, frame in node.messages_to_send():
        sent[to].extend(decode_frame(frame))
    assert sent[tcp][0] == Reachable(7555)
    assert not any(isinstance(m, Reachable) for m in sent[i2p])
