from __future__ import annotations

from cliqueclique.gossip.election import Route, choose, feasible
from cliqueclique.gossip.messages import Attrs

ME, A, B, C = "5" * 64, "a" * 64, "b" * 64, "c" * 64
D8 = bytes(8)


def ad(center: str, distance: int, upstream: str | None, subscribed: bool = True) -> Attrs:
    return Attrs(True, True, True, center, subscribed, distance, upstream, 1, D8, D8)


def test_own_candidacy_without_peers() -> None:
    assert choose(ME, True, [], {}, 64) == Route(ME, True, 0, None)


def test_subscribed_center_beats_higher_unsubscribed_id() -> None:
    peers = [(A, ad(C, 0, None, subscribed=False)), (B, ad(B, 0, None, subscribed=True))]
    assert choose(ME, False, peers, {}, 64) == Route(B, True, 1, B)


def test_higher_id_wins_then_shorter_distance_then_smaller_peer() -> None:
    peers = [(A, ad(C, 3, "1" * 64)), (B, ad(C, 2, "1" * 64)), (C, ad(C, 0, None))]
    assert choose(ME, True, peers, {}, 64) == Route(C, True, 1, C)
    peers = [(B, ad(C, 2, "1" * 64)), (A, ad(C, 2, "2" * 64))]
    assert choose(ME, True, peers, {}, 64).upstream == A


def test_split_horizon_and_feasibility() -> None:
    assert not feasible(ad(C, 1, ME), ME, {}, 64)  # routes through us
    assert not feasible(ad(C, 3, A), ME, {C: 3}, 64)  # not strictly closer than our best
    assert feasible(ad(C, 2, A), ME, {C: 3}, 64)
    assert not feasible(ad(C, 64, A), ME, {}, 64)  # beyond the distance bound
    assert not feasible(ad(ME, 1, A), ME, {}, 64)  # our own candidacy is not a route


def test_infeasible_routes_leave_the_node_its_own_center() -> None:
    peers = [(A, ad(C, 5, B)), (B, ad(C, 5, A))]
    assert choose(ME, False, peers, {C: 2}, 64) == Route(ME, False, 0, None)
