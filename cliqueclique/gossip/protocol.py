"""The per-document gossip state machine (sans-IO).

Theory of operation
===================

Every document has its own overlay network: the nodes that hold a copy of it,
linked in pairs ("links"; a link is a connected peer that holds the same
document). One `DocumentProtocol` runs per (local node, document); the node
level machine (`node.GossipNode`) owns them, routes each wire message to the
document it names, and talks to the log and the driver. Nothing here reads a
clock, draws global randomness or does I/O: every input carries ``now`` and
every output is queued for the caller (see node.py for the driver contract).

States. A document is JOINING (we asked a peer for it and do not hold it yet),
ACTIVE (held and replicated), DROPPING (no longer wanted; telling every linked
peer, until each acknowledges) or DROPPED (forgotten). Each link is SYNCING
(our latest serial is unacknowledged), SYNCED, DELETING (our delete is
unacknowledged) or CLOSED. `DOC_TRANSITIONS` and `LINK_TRANSITIONS` (states.py) list every
allowed (state, input) pair; anything else raises `LocalProtocolError`.

Metadata sync. What a node advertises about a document is an `Attrs` value:
whether it holds and wants it, whether it is subscribed, its view of the
center (id, subscribed, distance, upstream peer), its peer count and two
digests of what it holds. Whenever that value changes the serial goes up and
an `Update(serial, attrs)` goes to every link; a link stays SYNCING and the
update is resent at ``min(cap, base * 2**attempt)`` plus RNG jitter
(backoff.py) until the peer sends `Ack(serial)`. The receiver copies the
attributes (ignoring serials older than the last it saw) and acknowledges.
The first update to a peer that advertises ``holds=False`` (a joiner) carries
the document event itself.

Center election (election.py). Each node adopts the best feasible candidate
among its links' advertised centers, at distance + 1, or is its own center at
distance 0: a subscribed center beats an unsubscribed one, then the higher id.
A feasibility distance per center, over the center's sequence number and
the distance, keeps the tree loop-free. A node left with only unfeasible
routes to a better center sends `SeqnoRequest` along them (relayed hop by
hop towards the center, at most once per center and `seqno_interval` on each
node); the center raises its seqno, and the routes it then advertises are
feasible again, so a subtree cut off by a crash re-attaches in a few round
trips. Until then, and should no newer seqno come, the lost center is held
down for `hold_down` seconds, which bounds re-election after the center
leaves without any count-to-infinity.

Interest flows upstream. A link whose advertised upstream is us (for our
center) is downstream: it counts as a wanter, and as a subscriber if it
advertises ``subscribed``. We are subscribed if locally subscribed or with
subscribed downstream peers, and we want the document if subscribed,
bookmarked, with wanters (downstream peers or joiners), or holding a
subscribed parent. A document wanted by nothing for `gc_delay` seconds is
garbage: we move to DROPPING and send `Delete(serial)` to each link until
acknowledged (metadata deletion); the receiver forgets that link, which may
make the document garbage there too, so an unwanted branch withers back to
where it is still wanted.

Peers. `Have` (sent on connect, when we start holding a document, and again
whenever we lose a link) links two connected nodes that hold the same
document, up to `max_peers` per document. The bound is soft in one direction
only: a joiner, or a peer advertising fewer than `min_peers` links, is always
taken, so a node coming back to a crowded network is never left alone; once
things settle, a node over `max_peers` asks its peers one at a time to drop
the link (`Shed`), and a peer does only if it keeps `min_peers` links and
its way to the center (peerlimits.py). A link advertising fewer than `min_peers` peers gets a `Suggest` naming
another of our links (with its address hint): the node links it at once if
connected, or emits `PeerSuggested` so the driver dials it. Nothing
acknowledges a `Have`, and had it been lost (or reached a peer that had not
yet restored the document) two holders would stay unlinked for good; so
after announcing to someone, a document with fewer than `min_peers` links
offers itself again with backoff, `offer_attempts` times.

Children. Links in a document's network name its children (replies). A node
that is subscribed to a document *carries* its children: their networks ride
inside the parent's network, towards subscribed peers only. A child's
document event travels together with the link that names it, so "children
are offered to subscribed peers" costs no extra message. A child someone
wants for itself (bookmark, subscribe) gets its own `DocumentProtocol`.

Push (Plumtree; push.py). A newly held event goes eagerly (`Events`) to the links that
are tree edges inside the subscribing set (our upstream and our downstream
peers, both sides subscribed) plus links grafted by recovery, and lazily
(ids in `IHave`, batched every `lazy_interval`) to every other link that
holds the document. A node that hears of an event it lacks and does not get
it eagerly within `graft_timeout` sends `Graft` to an announcer, which sends
the event and keeps pushing eagerly on that link (announcers are tried in
turn). A node that receives an event twice eagerly prunes the redundant link:
the non-tree one of the two (`Prune`), so grafted links fall back to lazy
once the tree delivers again. Out-of-order events wait in a bounded orphan
buffer while a `Vector` asks the sender for the gap.

Reconciliation. When a link comes up (first update from a peer that holds
the document), both sides send a `Vector` of per-(network, author) chain
heads; each sends back the events the other lacks, in chain order, at most
`vector_answer_bytes` per vector followed by `More` when that was not all:
the requester sends its next vector once it has stored the chunk, so the
answer goes as fast as the requester reads. Events held here less than
`graft_timeout` ago are announced (`IHave`) rather than sent: they are most
likely still on their way to the requester through the tree, and it grafts
any that do not arrive (reconcile.py; an identical vector
while its answer is on the way is ignored, and answering one peer is bounded
by a byte budget per second).
The digests in `Attrs` are refreshed once a document has been quiet for
`settle_delay`; a link whose digest differs from ours triggers another vector
exchange (with backoff, at most `reconcile_attempts` times), which makes
delivery reliable under loss without any periodic traffic.

Bad input. `GossipNode.receive` decodes and checks a whole frame (structure,
every event's encoding and signature through a shared `EventCodec`, the
document it names, distances and serials) before applying any of it; a
failure drops the frame and becomes `PeerMisbehaved`. Events the log later
rejects (forged chains, equivocations, unauthorised edits) are blamed on the
peer that sent them; subscription events are never accepted from peers.
Unsolicited input is counted and reported every `unsolicited_limit` messages,
and everything a peer can make us remember is bounded, in bytes where the
items are peer-sized (limits.py: orphans per peer and in total, deferred
vectors, the codec cache; counts for announced and recent ids). A purged
event (a deleted document travels as its header) whose deletion we do not
hold yet waits among the orphans for it instead of being refused and blamed.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import TYPE_CHECKING

from . import election
from .backoff import retry_delay
from .messages import Ack, Attrs, Delete, Update
from .outputs import CenterChanged, DocumentDropped
from .peerlimits import PeerLimits
from .push import PushTree
from .seqnos import Seqnos
from .states import (
    DOC_TRANSITIONS,
    NO_DIGEST,
    DocInput,
    DocState,
    LinkInput,
    LinkState,
    PeerLink,
    advance,
)
from .suggestions import SuggestionBudget, Suggestions

if TYPE_CHECKING:
    from .node import GossipNode



class DocumentProtocol(PushTree, PeerLimits, Seqnos, Suggestions):
    """One document's metadata sync, election, interest, GC and push state."""

    def __init__(self, doc: str, host: GossipNode, *, joining_via: str | None = None) -> None:
        self.doc = doc
        self.host = host
        self.me = host.node_id
        self.cfg = host.config
        self.state = DocState.JOINING if joining_via else DocState.ACTIVE
        self.active = self.state is DocState.ACTIVE  # kept in step by `_move`
        self.via = joining_via
        self.local_subscribed = joining_via is not None
        self.local_bookmarked = False
        self.serial = 0
        self.advertised: Attrs | None = None
        self.links: dict[str, PeerLink] = {}
        route = election.Route(self.me, False, 0, None)
        self.center, self.center_subscribed = route.center, route.center_subscribed
        self.distance, self.upstream = 0, route.upstream
        self.fd: dict[str, tuple[int, int]] = {}  # center -> (seqno, distance) (election.py)
        self.holddown: dict[str, float] = {}
        self.center_seqno = 0  # the seqno of the route we hold (ours if we are the center)
        self.own_seqno = 0  # our seqno as a center: raised when a cut-off subtree asks
        self.seqno_wanted = 0  # ... to this, at `seqno_at` (raised at most once per seqno_interval)
        self.seqno_at: float | None = None
        self.seqno_raised_at: float | None = None
        self.seqno_asked: dict[str, tuple[int, float]] = {}  # center -> seqno requested/relayed, when
        self.subscribed = self.local_subscribed
        self.wants = True
        self.wanters = 0
        self.subscribers = 0
        self.delete_serial = 0
        self.gc_at: float | None = None
        self.lazy_at: float | None = None
        self.settle_at: float | None = None
        self.doc_digest = NO_DIGEST
        self.scope_digest = NO_DIGEST
        self.missing: dict[str, list[str]] = {}  # event id -> peers that announced it
        # event id -> the peer whose announcement added it to `missing`, and how
        # many each peer added: when the table is full, only a peer holding a
        # large share of it is to blame, not an honest announcer arriving late.
        self.claims: dict[str, str] = {}
        self.claims_by: Counter[str] = Counter()
        self.graft_heap: list[tuple[float, str]] = []
        self.recent: OrderedDict[str, set[str]] = OrderedDict()  # event id -> peers that hold it
        self.first_source: dict[str, str] = {}  # event id -> the peer it first came from
        self.fresh: OrderedDict[str, float] = OrderedDict()  # event id -> when held (push.py)
        self.suggested: set[tuple[str, str]] = set()
        self.suggestion_budgets: dict[str, SuggestionBudget] = {}  # per link peer (see on_suggest)
        self.suggestions_sent: dict[str, SuggestionBudget] = {}  # ... and what we sent it (suggest_to)
        self.dirty = True  # metadata inputs since the last flush: election etc. must rerun
        self.need_peers = False  # a link went away: offer the document to other connected peers
        self.offer_at: float | None = None  # when to offer it again while it has few links
        self.offers = 0  # re-offers since the last lost link
        # Shedding links beyond max_peers (peerlimits.py): when to ask next, whom
        # we asked and until when, and who kept its link (at which of its serials).
        self.shed_at: float | None = None
        self.shed_to: str | None = None
        self.shed_until: float | None = None
        self.shed_declined: dict[str, int] = {}
        self._targets_cache: tuple[list[str], list[str], list[str], list[str]] | None = None
        self._links_stale = True  # recompute the earliest link timer (see get_timer)
        self._links_timer: float | None = None
        if joining_via:
            self.links[joining_via] = PeerLink(joining_via)

    # --- small helpers ------------------------------------------------------------------

    def mark_dirty(self) -> None:
        """Metadata changed: rerun election and interest at the next flush."""
        self.dirty = True
        self._targets_cache = None

    def _move(self, event: DocInput) -> None:
        self.state = advance(DOC_TRANSITIONS, self.state, event)
        self.active = self.state is DocState.ACTIVE

    def holders(self) -> list[str]:
        return [p for p, link in self.links.items() if link.holder]

    def is_tree(self, peer: str, link: PeerLink) -> bool:
        if peer == self.upstream:
            return True
        a = link.attrs
        return a is not None and a.upstream == self.me and a.center == self.center

    def eager(self, peer: str, link: PeerLink) -> bool:
        if link.pruned or link.attrs is None:
            return False
        if link.grafted:
            return True
        return self.subscribed and link.attrs.subscribed and self.is_tree(peer, link)

    def _delay(self, attempt: int) -> float:
        c = self.cfg
        return retry_delay(attempt, c.retry_base, c.retry_cap, c.retry_jitter, self.host.rng)

    def add_link(self, peer: str) -> PeerLink | None:
        """Link a peer that holds (or wants) the document, unless we are full."""
        link = self.links.get(peer)
        if link is not None:
            return link if link.live else None
        if not self.active or peer == self.me:
            return None
        self.links[peer] = link = PeerLink(peer)
        self.mark_dirty()
        return link

    def room(self) -> bool:
        return sum(1 for link in self.links.values() if link.live) < self.cfg.max_peers

    def _remove(self, peer: str, event: LinkInput) -> None:
        link = self.links.pop(peer, None)
        if link is not None:
            link.move(event)
            self._shed_link_gone(peer)
            self.offer_to_peers()

    # --- local inputs -------------------------------------------------------------------

    def set_flags(self, subscribed: bool | None, bookmarked: bool | None) -> None:
        self.mark_dirty()
        if subscribed is not None:
            self.local_subscribed = subscribed
        if bookmarked is not None:
            self.local_bookmarked = bookmarked
        if self.state is DocState.DROPPING and (self.local_subscribed or self.local_bookmarked):
            self._move(DocInput.WANTED)
            self.gc_at = None
            self.host.document_revived(self.doc)

    def document_stored(self, now: float) -> None:
        """The joined document's event is in the log: we hold it now."""
        if self.state is DocState.JOINING:
            self._move(DocInput.STORED)
            self.mark_dirty()
            self.via = None
            self.host.document_activated(self.doc)

    # --- metadata inputs ----------------------------------------------------------------

    def on_update(self, peer: str, msg: Update, now: float) -> None:
        send = self.host.send
        if self.state is DocState.DROPPING or self.state is DocState.DROPPED:
            send(peer, Delete(self.doc, self.delete_serial))
            return
        link = self.links.get(peer)
        if link is None:
            # max_peers is soft: a joiner, or a peer starving for links, is always taken.
            needy = not msg.attrs.holds or msg.attrs.peers < self.cfg.min_peers
            if self.state is DocState.JOINING or not (self.room() or needy):
                send(peer, Delete(self.doc, 0))  # refused: we are full
                return
            link = self.add_link(peer)
            if link is None:
                send(peer, Delete(self.doc, 0))
                return
        if not link.live:
            return  # we are deleting this link; our Delete answers it
        if msg.serial > link.peer_serial:
            self.mark_dirty()
            first_holder = msg.attrs.holds and (link.attrs is None or not link.attrs.holds)
            link.peer_serial = msg.serial
            link.attrs = msg.attrs
            link.pruned = False
            link.prune_sent = False
            if not msg.attrs.holds:
                link.needs_document = True
                link.sent_serial = -1  # resend now, with the document
            else:
                link.needs_document = False
            if first_holder and self.active and not link.reconciled:
                link.reconciled = True
                self.host.send_vector(peer, self)
            self._check_digest(link, now)
        send(peer, Ack(self.doc, msg.serial))
        if self.state is DocState.JOINING and peer == self.via and msg.document is not None:
            self.host.joined_document(self, peer, msg.document, now)

    def on_ack(self, peer: str, serial: int, now: float) -> None:
        link = self.links.get(peer)
        if link is None:
            return
        if link.state is LinkState.DELETING:
            if serial == self.delete_serial:
                self._remove(peer, LinkInput.ACK_CURRENT)
            else:
                link.move(LinkInput.ACK_STALE)
            return
        if serial == link.sent_serial:
            link.move(LinkInput.ACK_CURRENT)
            self._links_stale = True
            link.retry_at = None
            link.attempt = 0
        else:
            link.move(LinkInput.ACK_STALE)

    def on_delete(self, peer: str, serial: int, now: float) -> None:
        if peer in self.links:
            self._remove(peer, LinkInput.PEER_DELETED)
            self._forget_announcer(peer)
        if self.state is DocState.JOINING and peer == self.via:
            self._move(DocInput.REFUSED)
            self.host.emit(DocumentDropped(self.doc, "join refused"))

    def peer_lost(self, peer: str, now: float) -> None:
        if peer in self.links:
            self._remove(peer, LinkInput.LOST)
            self._forget_announcer(peer)
        if self.state is DocState.JOINING and peer == self.via:
            self._move(DocInput.REFUSED)
            self.host.emit(DocumentDropped(self.doc, "join peer lost"))

    # --- push inputs ----------------------------------------------------------------------

    def relevant_digests(self, link: PeerLink) -> tuple[bytes, bytes]:
        """(ours, theirs) for the scope both sides replicate on this link."""
        a = link.attrs
        assert a is not None
        if self.subscribed and a.subscribed:
            return self.scope_digest, a.scope_digest
        return self.doc_digest, a.doc_digest

    def _check_digest(self, link: PeerLink, now: float) -> None:
        self._links_stale = True
        if not self.active or not link.holder or self.doc_digest == NO_DIGEST:
            return
        ours, theirs = self.relevant_digests(link)
        if theirs == NO_DIGEST or ours == theirs:
            link.reconcile_at = None
            link.reconcile_attempt = 0
        elif link.reconcile_at is None and link.reconcile_attempt < self.cfg.reconcile_attempts:
            link.reconcile_at = now + self.cfg.settle_delay

    # --- timers ---------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        if self._links_stale:  # link timers change far less often than this is asked
            self._links_stale = False
            links: float | None = None
            for link in self.links.values():
                for t in (link.retry_at, link.reconcile_at):
                    if t is not None and (links is None or t < links):
                        links = t
            self._links_timer = links
        best = self._links_timer
        for t in (self.lazy_at, self.settle_at, self.gc_at, self.offer_at, self.shed_at, self.shed_until,
                  self.seqno_at):
            if t is not None and (best is None or t < best):
                best = t
        if self.graft_heap and (best is None or self.graft_heap[0][0] < best):
            best = self.graft_heap[0][0]
        for t in self.holddown.values():
            if best is None or t < best:
                best = t
        return best

    def handle_timer(self, now: float) -> None:
        self.mark_dirty()
        self._links_stale = True
        self._shed_timers(now)
        for peer, link in list(self.links.items()):
            if link.retry_at is not None and link.retry_at <= now:
                link.move(LinkInput.RETRY)
                link.attempt += 1
                link.retry_at = now + self._delay(link.attempt)
                if link.state is LinkState.DELETING:
                    self.host.send(peer, Delete(self.doc, self.delete_serial))
                else:
                    self._send_update(peer, link)
            if link.reconcile_at is not None and link.reconcile_at <= now:
                self._reconcile_timer(peer, link, now)
        if self.seqno_at is not None and self.seqno_at <= now:
            self.seqno_at = None
            self._raise_seqno(now)
        for center, until in list(self.holddown.items()):
            if until <= now:
                del self.holddown[center]
                if center != self.center:
                    self.fd.pop(center, None)
        if self.settle_at is not None and self.settle_at <= now:
            self.settle_at = None
            self.doc_digest, self.scope_digest = self.host.digests(self)
            for link in self.links.values():
                if link.holder:
                    self._check_digest(link, now)
        if self.graft_heap and self.graft_heap[0][0] <= now:
            self._graft_timers(now)
        if self.lazy_at is not None and self.lazy_at <= now:
            self.lazy_at = None
            self._flush_lazy()
        if self.offer_at is not None and self.offer_at <= now:
            self.offer_at = None
            self.need_peers = True
        if self.gc_at is not None and self.gc_at <= now:
            self.gc_at = None
            self._derive()
            if not self.wants and self.state is not DocState.DROPPING:
                self.drop(now, "unwanted")

    def _reconcile_timer(self, peer: str, link: PeerLink, now: float) -> None:
        link.reconcile_at = None
        if not link.holder or not self.active:
            return
        ours, theirs = self.relevant_digests(link)
        if ours == theirs:
            link.reconcile_attempt = 0
            return
        # Events still flowing in from that peer (for any document): asked now,
        # it would send again all that is on its way. Wait for a quiet link.
        # (Not `now - last < delay`: at the rescheduled instant that can round
        # below the delay and reschedule the same instant forever.)
        last = self.host.last_events_from(peer)
        if last is not None and now < last + self.cfg.settle_delay:
            link.reconcile_at = last + self.cfg.settle_delay
            return
        self.host.send_vector(peer, self)
        link.reconcile_attempt += 1
        if link.reconcile_attempt < self.cfg.reconcile_attempts:
            link.reconcile_at = now + self.cfg.settle_delay + self._delay(link.reconcile_attempt)

    def _elect(self, now: float) -> None:
        old = (self.center, self.center_subscribed)
        candidates = [(p, link.attrs) for p, link in self.links.items()
                      if link.live and link.attrs is not None]
        route = election.choose(self.me, self.local_subscribed, candidates, self.fd,
                                self.cfg.max_distance, self.own_seqno)
        if route.center != old[0] and old[0] != self.me:
            if election.rank(route.center_subscribed, route.center) < election.rank(*old[::-1]):
                self.holddown.setdefault(old[0], now + self.cfg.hold_down)  # lost it
            elif old[0] not in self.holddown:
                self.fd.pop(old[0], None)  # replaced by a better center
        changed = (route.center, route.distance, route.upstream) != (
            self.center, self.distance, self.upstream)
        self.center, self.center_subscribed = route.center, route.center_subscribed
        self.distance, self.upstream = route.distance, route.upstream
        self.center_seqno = route.seqno
        if route.center != self.me:
            self.fd[route.center] = election.better_fd(self.fd.get(route.center), route.seqno, route.distance)
        if changed:
            self.host.emit(CenterChanged(self.doc, route.center, route.distance, route.upstream))
        self._ask_seqnos(candidates, route, now)

    def _derive(self) -> None:
        wanters = subscribers = 0
        for link in self.links.values():
            a = link.attrs
            if a is None or not link.live:
                continue
            if a.holds:
                if a.upstream == self.me and a.center == self.center:
                    wanters += 1
                    subscribers += a.subscribed
            elif a.wants:
                wanters += 1
        self.wanters, self.subscribers = wanters, subscribers
        self.subscribed = self.local_subscribed or subscribers > 0
        self.wants = (self.subscribed or self.local_bookmarked or wanters > 0
                      or self.host.has_subscribed_parent(self.doc))

    def current_attrs(self) -> Attrs:
        if self.state is DocState.JOINING:
            return Attrs(False, True, True, None, False, 0, None, 0, NO_DIGEST, NO_DIGEST)
        return Attrs(True, self.subscribed, self.wants, self.center, self.center_subscribed,
                     self.distance, self.upstream, sum(1 for k in self.links.values() if k.live),
                     self.doc_digest, self.scope_digest, self.center_seqno)

    def flush(self, now: float) -> None:
        """Recompute election, interest and attributes; send what changed."""
        if not self.dirty:
            return
        self.dirty = False
        self._targets_cache = None
        self._links_stale = True
        if self.state is DocState.DROPPING:
            if not self.links:
                self._move(DocInput.ALL_DELETED)
            return
        if self.state is DocState.DROPPED:
            return
        was_subscribed = self.subscribed
        if self.active:
            self._elect(now)
            self._derive()
            if self.wants:
                self.gc_at = None
            elif self.gc_at is None:
                self.gc_at = now + self.cfg.gc_delay
        attrs = self.current_attrs()
        if attrs != self.advertised:
            self.serial += 1
            self.advertised = attrs
        for peer, link in self.links.items():
            if link.live and link.sent_serial != self.serial:
                link.move(LinkInput.CHANGE)
                link.attempt = 0
                link.retry_at = now + self._delay(0)
                self._send_update(peer, link)
        if self.active:
            self._suggest(now)
            if self.need_peers and self.room() and self.host.announce(self):
                self.plan_offer(now)
            self.need_peers = False
            if self.subscribed != was_subscribed:
                self.host.subscription_changed(self.doc, now)
            self._check_peer_limit(now)

    def offer_to_peers(self) -> None:
        """Offer the document to connected peers it has no link with at the next
        flush, re-offering it afterwards while it is short of links."""
        self.need_peers = True
        self.offers = 0
        self.mark_dirty()

    def plan_offer(self, now: float, *, fresh: bool = False) -> None:
        """Offer the document again later if it is still short of links
        (`fresh`: a new peer, so the attempts start over)."""
        if fresh:
            self.offers = 0
        live = sum(1 for link in self.links.values() if link.live)
        if live >= self.cfg.min_peers or self.offers >= self.cfg.offer_attempts:
            self.offer_at = None
        elif self.offer_at is None:
            self.offer_at = now + self._delay(self.offers)
            self.offers += 1

    def _send_update(self, peer: str, link: PeerLink) -> None:
        document = self.host.document_wire(self.doc) if link.needs_document else None
        link.sent_serial = self.serial
        assert self.advertised is not None
        self.host.send(peer, Update(self.doc, self.serial, self.advertised, document))

    def drop(self, now: float, reason: str) -> None:
        """Stop holding the document: metadata deletion to every link until acknowledged."""
        self.mark_dirty()
        self._move(DocInput.UNWANTED)
        self.serial += 1
        self.delete_serial = self.serial
        self.missing.clear()
        self.claims.clear()
        self.claims_by.clear()
        self.graft_heap.clear()
        self.lazy_at = self.settle_at = self.gc_at = None
        for peer, link in list(self.links.items()):
            if not link.live:
                continue
            link.move(LinkInput.DROP)
            link.attempt = 0
            link.retry_at = now + self._delay(0)
            link.reconcile_at = None
            link.lazy.clear()
            self.host.send(peer, Delete(self.doc, self.delete_serial))
        self.host.document_dropped(self.doc, reason)
        if not self.links:
            self._move(DocInput.ALL_DELETED)
