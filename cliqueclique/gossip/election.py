"""Center election: pure functions over what the peers advertise.

A candidate is ranked by ``(center_subscribed, center_id)``: a subscribed
center beats an unsubscribed one, then the higher node id wins. For the same
center the smaller distance wins, then the smaller peer id (so every node
breaks ties the same way). A node's own candidacy is itself at distance 0.

Loop freedom, and no count-to-infinity, come from a *feasibility condition*
(as in Babel and EIGRP): for each center a node remembers its feasibility
distance ``fd``, the smallest distance it has held to that center, and only
accepts a route through a peer whose advertised distance is strictly below
``fd``. A node's distance to a center it keeps can therefore only shrink, so
following upstream pointers distances strictly decrease and can never form a
cycle. When no feasible route is left the center is *held down* for a while:
it stays recorded (with its ``fd``) so stale routes through the old tree are
refused, and the node elects the best remaining candidate (often itself).
Stale routes die out within the depth of the old tree; when the hold-down
expires the center may be adopted at any distance again (it was alive and
merely reachable by a longer path). Distances above ``max_distance`` are
never accepted, a last bound should hold-down timing ever be defeated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .messages import Attrs


@dataclass(frozen=True, slots=True)
class Route:
    center: str
    center_subscribed: bool
    distance: int
    upstream: str | None  # None when the node is its own center


def rank(center_subscribed: bool, center: str) -> tuple[bool, str]:
    """The ordering key of a candidate center (higher is better)."""
    return (center_subscribed, center)


def feasible(attrs: Attrs, self_id: str, fd: dict[str, int], max_distance: int) -> bool:
    """Whether a route through a peer advertising `attrs` may be adopted."""
    center = attrs.center
    if center is None or not attrs.holds or center == self_id or attrs.upstream == self_id:
        return False
    if attrs.distance + 1 > max_distance:
        return False
    limit = fd.get(center)
    return limit is None or attrs.distance < limit


def choose(self_id: str, self_subscribed: bool, candidates: Iterable[tuple[str, Attrs]],
           fd: dict[str, int], max_distance: int) -> Route:
    """The best route among the feasible candidates and the node's own candidacy."""
    best: tuple[tuple[bool, str], int, str] | None = None
    best_attrs: Attrs | None = None
    for peer, attrs in candidates:
        if not feasible(attrs, self_id, fd, max_distance):
            continue
        assert attrs.center is not None
        key = (rank(attrs.center_subscribed, attrs.center), -attrs.distance, _neg(peer))
        if best is None or key > best:
            best, best_attrs = key, attrs
            best_peer = peer
    own = rank(self_subscribed, self_id)
    if best is None or best_attrs is None or own > best[0]:
        return Route(self_id, self_subscribed, 0, None)
    assert best_attrs.center is not None
    return Route(best_attrs.center, best_attrs.center_subscribed, best_attrs.distance + 1, best_peer)


def _neg(peer: str) -> str:
    # Smaller peer id wins ties: invert the hex digits so a larger key means a smaller id.
    return peer.translate(_INVERT)


_INVERT = str.maketrans("0123456789abcdef", "fedcba9876543210")
