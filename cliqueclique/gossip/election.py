"""Center election: pure functions over what the peers advertise.

A candidate is ranked by ``(center_subscribed, center_id)``: a subscribed
center beats an unsubscribed one, then the higher node id wins. For the same
center the smaller distance wins, then the smaller peer id (so every node
breaks ties the same way). A node's own candidacy is itself at distance 0.

Loop freedom, and no count-to-infinity, come from a *feasibility condition*
(as in Babel, RFC 8966): every route carries the center's sequence number
``seqno``, and for each center a node remembers its feasibility distance
``fd = (seqno, distance)``, the newest seqno it has held a route with and the
smallest distance at that seqno. A route through a peer is feasible only if
it carries a newer seqno, or the same one at a distance strictly below ``fd``.
For a fixed seqno a node's distance can therefore only shrink, and a newer
seqno comes only from the center itself, down the tree: following upstream
pointers, (seqno, -distance) strictly increases, so they never form a cycle.

When no feasible route is left, the node asks for a newer seqno
(`SeqnoRequest`, relayed along the peers' routes towards the center, see
protocol.py) instead of waiting: the center raises its seqno, the new routes
it advertises are feasible everywhere, and a subtree cut off by a crash
re-attaches within a few round trips. Meanwhile the center is *held down*:
it stays recorded (with its ``fd``) so stale routes through the old tree are
refused, and the node elects the best remaining candidate (often itself).
When the hold-down expires the center may be adopted at any distance again
(the fallback should no newer seqno come, say because the request was lost
or a lying peer pushed the seqno out of reach). Distances above
``max_distance`` are never accepted, a last bound.
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
    seqno: int = 0  # the center's sequence number the route carries


def rank(center_subscribed: bool, center: str) -> tuple[bool, str]:
    """The ordering key of a candidate center (higher is better)."""
    return (center_subscribed, center)


def feasible(attrs: Attrs, self_id: str, fd: dict[str, tuple[int, int]], max_distance: int) -> bool:
    """Whether a route through a peer advertising `attrs` may be adopted."""
    center = attrs.center
    if center is None or not attrs.holds or center == self_id or attrs.upstream == self_id:
        return False
    if attrs.distance + 1 > max_distance:
        return False
    limit = fd.get(center)
    return limit is None or attrs.seqno > limit[0] or (attrs.seqno == limit[0] and attrs.distance < limit[1])


def better_fd(fd: tuple[int, int] | None, seqno: int, distance: int) -> tuple[int, int]:
    """The feasibility distance after holding a route at (seqno, distance)."""
    if fd is None or seqno > fd[0]:
        return (seqno, distance)
    return (fd[0], min(fd[1], distance)) if seqno == fd[0] else fd


def choose(self_id: str, self_subscribed: bool, candidates: Iterable[tuple[str, Attrs]],
           fd: dict[str, tuple[int, int]], max_distance: int, own_seqno: int = 0) -> Route:
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
        return Route(self_id, self_subscribed, 0, None, own_seqno)
    assert best_attrs.center is not None
    return Route(best_attrs.center, best_attrs.center_subscribed, best_attrs.distance + 1, best_peer,
                 best_attrs.seqno)


def _neg(peer: str) -> str:
    # Smaller peer id wins ties: invert the hex digits so a larger key means a smaller id.
    return peer.translate(_INVERT)


_INVERT = str.maketrans("0123456789abcdef", "fedcba9876543210")
