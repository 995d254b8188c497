"""Which of the events a peer sent go to the log now, as the policy says (sans-IO).

The machine's `Policy` answers per event (outputs.Policy.admit): accept it,
refuse it (a blocked or banned author, a members-only forum, a post without
its proof of work), or hold it back until a time (a flood budget that
refills). A refusal is no peer's fault: the relay did nothing wrong, so
nothing here blames anybody. Three rules keep the outcome coherent:

- **a post travels whole**: a link event decides the fate of the document it
  adds (its `Document` event in the same message is refused or held with it),
  so no thread ever shows a link to a post that was never stored;
- **a chain stops where it was refused**: an author's later events in the
  same network cannot be stored without the refused one, so they are refused
  (or held) with it, silently, instead of filling the orphan buffer that
  would blame the relay;
- **held events are kept, bounded**: in arrival order up to `HELD_EVENTS`
  events and `HELD_BYTES`; beyond that the oldest are let go (a later
  reconciliation fetches them again). They are offered to the policy again
  when their time comes.

When the policy's answers change (a ban lifted, a member approved, a
moderator no longer heeded), `forget_refusals` returns the documents whose
events were refused, with the networks that carried them, so the machine
asks its peers for them again.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..eventlog import Event, Kind
from .limits import ENTRY_BYTES, event_bytes
from .outputs import EventCodec, Refusal

#: chains whose refusal (or hold) is remembered; the oldest are forgotten
MAX_CHAINS = 10_000
#: events held back at most, in count and in bytes, across all peers
HELD_EVENTS = 10_000
HELD_BYTES = 32 * 1024 * 1024
#: the shortest hold, in seconds
MIN_HOLD = 1.0

Item = tuple[int, Event]  # (hops, event), as a message carries it
Decide = Callable[[Event, str, float], Refusal | None]


@dataclass(slots=True)
class _Chain:
    seq: int  # the first refused (or held) position of the chain
    doc: str  # the document whose network carried it
    until: float | None  # held back until then; None: refused


@dataclass(slots=True)
class _Held:
    peer: str
    doc: str
    hops: int
    event: Event
    until: float
    size: int


class Gate:
    def __init__(self, codec: EventCodec) -> None:
        self.codec = codec
        self._chains: OrderedDict[tuple[str, str], _Chain] = OrderedDict()
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self._held_bytes = 0
        self.refused: Counter[str] = Counter()  # reason -> events refused
        self.held_back = 0  # events held back (each time one is)
        self.let_go = 0  # held events dropped for room

    # ------------------------------------------------------------ sorting a message

    def admit(self, decide: Decide, peer: str, doc: str, items: list[Item], now: float) -> list[Item]:
        """The items of one message that may be stored now (in their order);
        the others are refused or held back here. `decide(ev, doc, now)` is
        the policy's answer for one event."""
        fates: dict[str, Refusal | None] = {}  # event id -> its fate; absent: accepted
        adds: dict[str, Refusal] = {}  # document id -> the fate of the link adding it
        links = [it for it in items if it[1].kind is Kind.LINK]
        for _, ev in links + [it for it in items if it[1].kind is not Kind.LINK]:
            fate = adds.get(ev.id) if ev.kind is Kind.DOCUMENT else None
            fate = fate or self._chain_fate(ev) or decide(ev, doc, now)
            if fate is None:
                continue
            fates[ev.id] = fate
            if ev.kind is Kind.LINK and not ev.purged:
                adds[self.codec.link_child(ev)] = fate
            self._mark_chain(ev, doc, fate)
        if not fates:
            return items
        out = []
        for hops, ev in items:
            fate = fates.get(ev.id)
            if fate is None:
                out.append((hops, ev))
            elif fate.until is None:
                self.refused[fate.reason] += 1
            else:  # a policy answering "until now" must not spin the timer
                self._hold(_Held(peer, doc, hops, ev, max(fate.until, now + MIN_HOLD), event_bytes(ev)))
        return out

    def _chain_fate(self, ev: Event) -> Refusal | None:
        chain = self._chains.get((ev.author, ev.network))
        if chain is None or ev.seq < chain.seq:
            return None
        return Refusal("chain", chain.until)

    def _mark_chain(self, ev: Event, doc: str, fate: Refusal) -> None:
        key = (ev.author, ev.network)
        chain = self._chains.get(key)
        if chain is not None and chain.seq <= ev.seq:
            return
        self._chains[key] = _Chain(ev.seq, doc, fate.until)
        self._chains.move_to_end(key)
        while len(self._chains) > MAX_CHAINS:
            self._chains.popitem(last=False)

    # ------------------------------------------------------------ held back

    def _hold(self, held: _Held) -> None:
        if held.event.id in self._held:
            return
        self._held[held.event.id] = held
        self._held_bytes += held.size
        self.held_back += 1
        while len(self._held) > HELD_EVENTS or self._held_bytes > HELD_BYTES:
            _, old = self._held.popitem(last=False)
            self._held_bytes -= old.size
            self.let_go += 1

    @property
    def held_count(self) -> int:
        return len(self._held)

    @property
    def timer(self) -> float | None:
        return min((h.until for h in self._held.values()), default=None)

    def due(self, now: float) -> list[tuple[str, str, list[Item]]]:
        """Held events whose time has come, as (peer, doc, items) in arrival
        order (chain order within a chain), released from every mark."""
        ready = [h for h in self._held.values() if h.until <= now]
        if not ready:
            return []
        for h in ready:
            del self._held[h.event.id]
            self._held_bytes -= h.size
            chain = self._chains.get((h.event.author, h.event.network))
            if chain is not None and chain.until is not None:
                del self._chains[(h.event.author, h.event.network)]
        groups: dict[tuple[str, str], list[Item]] = {}
        for h in ready:
            groups.setdefault((h.peer, h.doc), []).append((h.hops, h.event))
        return [(peer, doc, sorted(items, key=lambda it: (it[1].kind is not Kind.DOCUMENT, it[1].seq)))
                for (peer, doc), items in groups.items()]

    def forget_refusals(self) -> dict[str, set[str]]:
        """The policy changed: forget which chains were refused; returns the
        documents whose networks carried them, with those networks (to be
        asked for again)."""
        refused: dict[str, set[str]] = {}
        for (_, network), chain in self._chains.items():
            if chain.until is None:
                refused.setdefault(chain.doc, set()).add(network)
        self._chains = OrderedDict((k, c) for k, c in self._chains.items() if c.until is not None)
        return refused

    def drop_documents(self, docs: Iterable[str]) -> None:
        """Documents no longer held: their held events go."""
        gone = set(docs)
        for eid, h in list(self._held.items()):
            if h.doc in gone:
                del self._held[eid]
                self._held_bytes -= h.size

    def state_bytes(self) -> int:
        return self._held_bytes + ENTRY_BYTES * (len(self._held) + len(self._chains))
