"""A picture of one document's network, as this node sees it.

A node knows its own place (center, distance, upstream, subscribed) and what
each peer of the document advertises (the same attributes, DESIGN.md 3). The
picture holds those nodes, plus the center and any upstream a peer names that
is not our peer (known by name only, drawn faint), with

- tree edges: each node to its upstream (the election's tree, towards the center);
- peer edges: our links that are not tree edges;
- path edges: from a faint node towards the center when the hops between
  them are beyond what we can see.

`snapshot` reads the live gossip state (event loop only); `layout` is pure and
places nodes in rows by distance from the center, each row ordered under its
upstreams, so the tree reads top-down.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from ..gossip.node import GossipNode

ROW = 110
MARGIN = 70
MIN_WIDTH = 640
SLOT = 150
RADIUS = 27  # the drawn node's radius plus a little air


@dataclass
class NetNode:
    id: str
    distance: int | None
    subscribed: bool
    upstream: str | None = None
    me: bool = False
    center: bool = False
    peer: bool = False
    beyond: bool = False
    x: float = 0.0
    y: float = 0.0


@dataclass(frozen=True)
class NetEdge:
    a: str
    b: str
    kind: str  # tree | peer | path
    x1: float = 0.0
    y1: float = 0.0
    x2: float = 0.0
    y2: float = 0.0


@dataclass
class NetPicture:
    doc: str
    state: str
    center: str
    nodes: list[NetNode] = field(default_factory=list)
    edges: list[NetEdge] = field(default_factory=list)
    width: int = MIN_WIDTH
    height: int = 2 * MARGIN

    def node(self, node_id: str) -> NetNode | None:
        return next((n for n in self.nodes if n.id == node_id), None)


def snapshot(gossip: GossipNode, me: str, doc: str) -> NetPicture | None:
    """The nodes and edges of `doc`'s network known here (None: the document is not held)."""
    proto = gossip.protocol(doc)
    info = gossip.info(doc)
    if proto is None or info is None:
        return None
    picture = NetPicture(doc, info.state, info.center)
    nodes = {me: NetNode(me, info.distance, proto.subscribed, info.upstream, me=True)}
    for peer, link in proto.links.items():
        attrs = link.attrs
        if not link.live or attrs is None or not attrs.holds:
            continue
        nodes[peer] = NetNode(peer, attrs.distance, attrs.subscribed, attrs.upstream, peer=True)
    if info.center not in nodes:
        nodes[info.center] = NetNode(info.center, 0, info.center_subscribed, beyond=True)
    for node in list(nodes.values()):
        upstream = node.upstream
        if upstream and upstream not in nodes and node.distance:
            # Subscription flows upstream: a subscribed node's upstream is subscribed too.
            nodes[upstream] = NetNode(upstream, node.distance - 1, node.subscribed, beyond=True)
    nodes[info.center].center = True
    picture.nodes = list(nodes.values())
    picture.edges = _edges(picture, me)
    return picture


def _edges(picture: NetPicture, me: str) -> list[NetEdge]:
    ids = {n.id for n in picture.nodes}
    edges, tree = [], set()
    for node in picture.nodes:
        if node.upstream in ids and node.upstream != node.id:
            edges.append(NetEdge(node.id, node.upstream, "tree"))
            tree.add(frozenset((node.id, node.upstream)))
    for node in picture.nodes:
        if node.peer and frozenset((me, node.id)) not in tree:
            edges.append(NetEdge(me, node.id, "peer"))
        if node.beyond and not node.center and node.upstream is None and picture.center in ids:
            edges.append(NetEdge(node.id, picture.center, "path"))
    return edges


def layout(picture: NetPicture) -> NetPicture:
    """Place the nodes in rows by distance, each row ordered under its upstreams."""
    rows: dict[int, list[NetNode]] = defaultdict(list)
    for node in picture.nodes:
        rows[node.distance if node.distance is not None else -1].append(node)
    order = sorted(k for k in rows if k >= 0) + ([-1] if -1 in rows else [])
    widest = max((len(r) for r in rows.values()), default=1)
    picture.width = max(MIN_WIDTH, widest * SLOT)
    placed: dict[str, float] = {}
    for index, key in enumerate(order):
        row = rows[key]
        row.sort(key=lambda n: (placed.get(n.upstream or "", picture.width / 2), not n.me, n.id))
        for i, node in enumerate(row):
            node.x = round((i + 0.5) * picture.width / len(row), 1)
            node.y = MARGIN + index * ROW
            placed[node.id] = node.x
    picture.height = 2 * MARGIN + max(0, len(order) - 1) * ROW
    where = {n.id: n for n in picture.nodes}
    picture.edges = [_between(e, where[e.a], where[e.b]) for e in picture.edges]
    return picture


def _between(edge: NetEdge, a: NetNode, b: NetNode) -> NetEdge:
    """The edge from rim to rim (so an arrowhead shows where it meets the circle)."""
    dx, dy = b.x - a.x, b.y - a.y
    length = math.hypot(dx, dy)
    if length <= 2 * RADIUS:
        return NetEdge(edge.a, edge.b, edge.kind, a.x, a.y, b.x, b.y)
    ux, uy = dx / length * RADIUS, dy / length * RADIUS
    return NetEdge(edge.a, edge.b, edge.kind, round(a.x + ux, 1), round(a.y + uy, 1),
                   round(b.x - ux, 1), round(b.y - uy, 1))
