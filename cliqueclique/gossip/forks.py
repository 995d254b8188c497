"""Forked chains: authors who signed two different events at one place.

A relay cannot forge an author's signature, so two events signed by one
author at the same (network, seq), or one whose `prev` names an event other
than the one held at seq - 1, prove that the author forked its chain there.
Whoever passed a twin on did nothing wrong: the machine blames the author
(only when the author itself sent it), marks the chain forked from that seq
on, takes no more of it and passes none of it on, and sends both twins to the
document's peers so that each of them learns the fork too (the twin it lacks
is refused by its log as evidence of its own). Every honest holder then hides
the chain from the fork on (views/threads.py), whichever twin it holds.
"""

from __future__ import annotations

from collections import OrderedDict

from ..eventlog import Event, EventStore

#: forked chains remembered (the log's evidence table keeps its own bound)
MAX_FORKS = 10_000


class Forks:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._first: OrderedDict[tuple[str, str], int] = OrderedDict()
        for key, seq in store.forks().items():
            self._remember(key, seq)

    def __bool__(self) -> bool:
        return bool(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def refuses(self, ev: Event) -> bool:
        """True for an event of a forked chain at or after the fork."""
        seq = self._first.get((ev.author, ev.network))
        return seq is not None and ev.seq >= seq

    def found(self, ev: Event) -> tuple[int, tuple[Event, Event] | None] | None:
        """The log refused `ev` as a fork (a second event at a held seq, or a
        `prev` that is not the held event at seq - 1). Returns None if the fork
        was known, else the seq it forked at and the evidence to pass on (the
        held event and `ev`; None if the held one is gone)."""
        held_id = self.store.at(ev.author, ev.network, ev.seq)
        seq = ev.seq if held_id is not None else ev.seq - 1
        if held_id is None:
            held_id = self.store.at(ev.author, ev.network, seq)
        known = self._first.get((ev.author, ev.network))
        self._remember((ev.author, ev.network), seq if known is None else min(known, seq))
        if known is not None:
            return None
        held = self.store.get(held_id) if held_id is not None else None
        return seq, (held, ev) if held is not None else None

    def forget(self, networks: set[str]) -> None:
        """Garbage collection removed these networks (and their evidence)."""
        for key in [k for k in self._first if k[1] in networks]:
            del self._first[key]

    def _remember(self, key: tuple[str, str], seq: int) -> None:
        self._first[key] = seq
        self._first.move_to_end(key)
        while len(self._first) > MAX_FORKS:
            self._first.popitem(last=False)
