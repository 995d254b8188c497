"""Random forums for property tests: a script of operations turned into
signed events by several authors, appended to a store as it goes.

`Forum` keeps a model of what exists (documents, links, editors, deletions,
the history of each document's merged CRDT state) so that every generated
event is one the log accepts: edits only by authors or editors (or editors
removed since, whose late edits the log takes but the views do not count),
editors lists and deletions only by owners, nothing after a document's
deletion that the log refuses. Edits are made against *old* snapshots of the
state too, so concurrent edits really conflict.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from cliqueclique.eventlog import Action, Direction, Event, SQLiteStore
from cliqueclique.views import Change, crdt
from cliqueclique.views.directory import plan_entry
from cliqueclique.views.signer import BatchSigner

from ..conftest import make_key
from .conftest import Clock

#: operations of a document under heavy concurrent editing
EDIT_OPS = ("post", "edit", "edit", "edit", "edit", "edit", "editors", "react", "delete_doc")
OPS = ("post", "reply", "reply", "link", "edit", "edit", "edit", "edit", "delete_doc", "delete_link",
       "mark", "dir", "react", "editors")
REACTIONS = ["+1", "heart", "🎉"]
ACTIONS = [Action.SUBSCRIBE, Action.UNSUBSCRIBE, Action.BOOKMARK, Action.UNBOOKMARK, Action.READ,
           Action.UNREAD, Action.BLOCK, Action.NOTE]
WORDS = ["apple", "Apricot", "banana", "basil", "cherry", "chérie", "date", "ab", "a"]


@dataclass
class Doc:
    id: str
    author: int
    editors: set[int]  # as the body names them
    history: list[bytes]
    deleted: bool = False
    current: set[int] = field(default_factory=set)  # after the latest editors event
    named: set[int] = field(default_factory=set)  # by the body or any editors event
    retired: dict[str, int] = field(default_factory=dict)


@dataclass
class Forum:
    store: SQLiteStore
    authors: int = 3
    signers: list[BatchSigner] = field(init=False)
    docs: list[Doc] = field(default_factory=list)
    links: list[tuple[Event, bool]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    pending: list[Event] = field(default_factory=list)
    directory: str | None = None
    #: every document names every other author as an editor
    open_editing: bool = False

    def __post_init__(self) -> None:
        clock = Clock()
        self.signers = [BatchSigner(make_key(i + 1), self.store, clock) for i in range(self.authors)]

    # --- driving ------------------------------------------------------------------

    def run(self, ops: list[tuple[str, int, int, int]]) -> list[Event]:
        """Apply every operation; returns all events in the order they were appended."""
        for op, who, x, y in ops:
            getattr(self, "_" + op)(who % self.authors, x, y)
            if y % 3 or op == "dir":  # else keep it pending: the next batch carries several ops
                self.flush()
        self.flush()
        return self.events

    def _add(self, *events: Event) -> None:
        self.pending.extend(events)

    def flush(self) -> None:
        if self.pending:
            results = self.store.append_many(self.pending)
            assert all(r.error is None for r in results), [r.reason for r in results]
            self.events += self.pending
            self.pending = []

    def _pick(self, items: list[Doc], x: int, live: bool) -> Doc | None:
        candidates = [d for d in items if not (live and d.deleted)]
        return candidates[x % len(candidates)] if candidates else None

    # --- operations -----------------------------------------------------------------

    def _post(self, who: int, x: int, y: int, parent: Doc | None = None) -> Doc:
        editors = {i for i in range(self.authors)
                   if (self.open_editing or (x >> i) % 4) and i != who}
        subject = f"{WORDS[x % len(WORDS)]} {WORDS[y % len(WORDS)]}"
        props = {"lang": "en" if x % 2 else "fr"} if x % 3 else None
        event = self.signers[who].document(subject, f"text {x} {WORDS[(x + y) % len(WORDS)]}",
                                           editors=[self.signers[i].id for i in editors],
                                           properties=props)
        doc = Doc(event.id, who, editors, [crdt.seed(subject, event.content()["text"])],
                  current=set(editors), named=set(editors))
        self.docs.append(doc)
        self._add(event)
        if parent is not None:
            self._add(self.signers[who].link(parent.id, doc.id))
        return doc

    def _reply(self, who: int, x: int, y: int) -> None:
        parent = self._pick(self.docs, x, live=False)
        self._post(who, x // 7, y, parent)

    def _link(self, who: int, x: int, y: int) -> None:
        parent, child = self._pick(self.docs, x, False), self._pick(self.docs, y, False)
        if parent and child and parent.id != child.id:
            direction = Direction.REVERSED if (x + y) % 4 == 0 else Direction.NATURAL
            link = self.signers[who].link(parent.id, child.id, direction)
            self.links.append((link, False))
            self._add(link)

    def _edit(self, who: int, x: int, y: int) -> None:
        doc = self._pick(self.docs, x, live=True)
        if doc is None:
            return
        allowed = sorted(doc.current | {doc.author})
        removed = sorted(doc.named - doc.current)
        # now and then an editor removed since: the log takes it, the views do not count it
        editor = removed[x % len(removed)] if removed and y % 4 == 0 else allowed[who % len(allowed)]
        # the latest state (built on others' edits, which a peer may deliver later)
        # or an older one (a concurrent edit)
        base = doc.history[-1] if y % 2 else doc.history[(y // 2) % len(doc.history)]
        current = crdt.read(base)
        change = [
            Change(body=current.body + f" +{x}"),
            Change(body=current.body[1:] + WORDS[y % len(WORDS)]),
            Change(title=current.title.upper()),
            Change(add_tags=[WORDS[x % len(WORDS)]], remove_tags=current.tags[:1]),
            Change(set_properties={WORDS[x % len(WORDS)]: WORDS[y % len(WORDS)]},
                   remove_properties=[name for name, value in current.properties.items() if value][:1]),
        ][(x + y) % 5]
        update = crdt.make_update(base, self.signers[editor].id, change)
        if update is not None:
            self._add(self.signers[editor].edit(doc.id, update))
            doc.history.append(crdt.merge(doc.history[-1], [update])[0])

    def _react(self, who: int, x: int, y: int) -> None:
        doc = self._pick(self.docs, x, live=True)
        if doc is not None:
            self._add(self.signers[who].react(doc.id, REACTIONS[y % len(REACTIONS)], on=x % 3 != 0))

    def _editors(self, who: int, x: int, y: int) -> None:
        """The owner adds or removes one other author (a removal retires their edits so far)."""
        doc = self._pick(self.docs, x, live=True)
        if doc is None or self.authors < 2:
            return
        others = [i for i in range(self.authors) if i != doc.author]
        toggled = others[y % len(others)]
        if toggled in doc.current:
            doc.current.discard(toggled)
            head = self.signers[toggled]._head(doc.id)
            if head is not None:
                key = self.signers[toggled].id
                doc.retired[key] = max(doc.retired.get(key, 0), head[0])
        else:
            doc.current.add(toggled)
            doc.named.add(toggled)
        self._add(self.signers[doc.author].set_editors(
            doc.id, [self.signers[i].id for i in doc.current], doc.retired))

    def _delete_doc(self, who: int, x: int, y: int) -> None:
        doc = self._pick(self.docs, x, live=True)
        if doc is not None and y % 2:
            doc.deleted = True
            self._add(self.signers[doc.author].delete(doc.id, doc.id))

    def _delete_link(self, who: int, x: int, y: int) -> None:
        live = [i for i, (_, gone) in enumerate(self.links) if not gone]
        if live:
            index = live[x % len(live)]
            link, _ = self.links[index]
            self.links[index] = (link, True)
            author = next(s for s in self.signers if s.id == link.author)
            self._add(author.delete(link.id, link.network))

    def _mark(self, who: int, x: int, y: int) -> None:
        doc = self._pick(self.docs, x, live=False)
        if doc is not None:
            action = ACTIONS[y % len(ACTIONS)]
            note = f"note {x}" if action is Action.NOTE else None
            self._add(self.signers[who].subscription(doc.id, action, note))

    def _dir(self, who: int, x: int, y: int) -> None:
        self.flush()  # adding reads the views
        if self.directory is None:
            event = self.signers[0].document("Directory", "", properties={"cliqueclique.type": "directory"})
            self.directory = event.id
            self._add(event)
            self.flush()
        doc = self._pick(self.docs, x, live=True)
        if doc is not None:
            self._add(*plan_entry(self.signers[who], self.store, self.directory, doc.id))


def causal_shuffle(events: list[Event], rng: random.Random) -> list[Event]:
    """The events in a random order a peer could deliver them in: after each
    event's chain predecessor, edits, reactions and editors lists after their
    document, an edit by an editor the body does not name after the first
    editors event naming them, deletions after their target (and a
    document's deletion after every event of its network that preceded it)."""
    index = {e.id: i for i, e in enumerate(events)}
    deps: list[set[int]] = [set() for _ in events]
    first_grant: dict[tuple[str, str], int] = {}  # (document, node) -> first editors event naming it
    for i, e in enumerate(events):
        if e.kind.value == "editors":
            body = e.content()
            for node in [*body["editors"], *body["retired"]]:
                first_grant.setdefault((e.network, node), i)
    for i, e in enumerate(events):
        about_document = e.kind.value in ("edit", "reaction", "editors")
        for dep in (e.prev, e.network if about_document else None,
                    e.content()["target"] if e.kind.value == "deletion" else None):
            if dep in index and index[dep] != i:
                deps[i].add(index[dep])
        grant = first_grant.get((e.network, e.author))
        if e.kind.value == "edit" and grant is not None and grant < i:
            document = events[index[e.network]] if e.network in index else None
            named = document is not None and e.author in (document.content() or {}).get("editors", [])
            if document is not None and e.author != document.author and not named:
                deps[i].add(grant)
        if e.kind.value == "deletion" and e.content()["target"] == e.network:
            deps[i] |= {j for j in range(i) if events[j].network == e.network}
    order: list[Event] = []
    done: set[int] = set()
    ready = [i for i in range(len(events)) if not deps[i]]
    waiting = {i for i in range(len(events)) if deps[i]}
    while ready:
        i = ready.pop(rng.randrange(len(ready)))
        order.append(events[i])
        done.add(i)
        now = [j for j in waiting if deps[j] <= done]
        waiting -= set(now)
        ready += now
    assert len(order) == len(events)
    return order
