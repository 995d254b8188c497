from __future__ import annotations

from cliqueclique.gossip.election import Route, better_fd, choose, feasible
from cliqueclique.gossip.messages import Attrs

ME, A, B, C = "5" * 64, "a" * 64, "b" * 64, "c" * 64
D8 = bytes(8)


def ad(center: str, distance: int, upstream: str | None, subscribed: bool = True, seqno: int = 0) -> Attrs:
    return Attrs(True, True, True, center, subscribed, distance, upstream, 1, D8, D8, seqno)


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
    assert not feasible(ad(C, 3, A), ME, {C: (0, 3)}, 64)  # not strictly closer than our best
    assert feasible(ad(C, 2, A), ME, {C: (0, 3)}, 64)
    assert not feasible(ad(C, 64, A), ME, {}, 64)  # beyond the distance bound
    assert not feasible(ad(ME, 1, A), ME, {}, 64)  # our own candidacy is not a route


def test_infeasible_routes_leave_the_node_its_own_center() -> None:
    peers = [(A, ad(C, 5, B)), (B, ad(C, 5, A))]
    assert choose(ME, False, peers, {C: (0, 2)}, 64) == Route(ME, False, 0, None)


def test_a_newer_seqno_is_feasible_at_any_distance_an_older_never() -> None:
    fd = {C: (4, 2)}
    assert feasible(ad(C, 9, A, seqno=5), ME, fd, 64)
    assert not feasible(ad(C, 0, None, seqno=3), ME, fd, 64)  # older: even the center itself
    assert feasible(ad(C, 1, A, seqno=4), ME, fd, 64) and not feasible(ad(C, 2, A, seqno=4), ME, fd, 64)
    route = choose(ME, False, [(A, ad(C, 9, B, seqno=5))], fd, 64)
    assert route == Route(C, True, 10, A, 5)


def test_feasibility_distance_follows_the_newest_seqno() -> None:
    assert better_fd(None, 3, 7) == (3, 7)
    assert better_fd((3, 7), 3, 9) == (3, 7) and better_fd((3, 7), 3, 2) == (3, 2)
    assert better_fd((3, 7), 4, 9) == (4, 9)  # newer: any distance, and it sets the new bound
    assert better_fd((3, 7), 2, 1) == (3, 7)


def test_own_candidacy_carries_own_seqno() -> None:
    assert choose(ME, True, [], {}, 64, own_seqno=6) == Route(ME, True, 0, None, 6)
