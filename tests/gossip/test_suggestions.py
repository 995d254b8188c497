"""Peer suggestions are bounded per link and document, and only a link may make them."""

from __future__ import annotations

from nacl.signing import SigningKey

from cliqueclique.gossip.messages import Suggest, encode_frames
from cliqueclique.gossip.outputs import PeerMisbehaved, PeerSuggested
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
