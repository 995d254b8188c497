"""Mutable document state as pycrdt (Yjs) updates: seed, merge, read, edit.

State schema (root types of one Yjs document per forum document):

- ``title``: Text, seeded with the document's subject;
- ``body``: Text, seeded with the document's text;
- ``tags``: Map tag -> True (a set: a tag is set while its key is present);
- ``reactions``: Map ``"<node id>:<reaction>"`` -> True (a set per node).

Every node seeds the same initial state from the immutable document event
with a fixed client id, so the seed items have the same Yjs ids everywhere
and edits made against one node's state apply at every other node.

The stored state is ``merge_updates(seed, *edits)``. Merging, unlike applying
to a `Doc` and re-encoding it, keeps updates whose causal predecessors have
not arrived yet (another editor's earlier edit), and its bytes are the same
whatever order or grouping the edits were merged in: that is what makes the
view identical on every node and across replays.

`make_update` turns a wanted new body into Yjs operations with a character
diff (difflib) against the current merged body, so concurrent edits to other
parts of the text survive; the event carries only the delta, encoded against
the state vector the editor saw.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from pycrdt import Doc, Map, Text, merge_updates

#: The client id of the seed items; the same on every node by construction.
SEED_CLIENT = 1


@dataclass(frozen=True)
class StateFields:
    """What a merged state means to a reader."""

    title: str
    body: str
    tags: list[str] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)


def seed(subject: str, text: str) -> bytes:
    """The initial state of a document, byte-identical on every node."""
    doc: Doc[Any] = Doc(client_id=SEED_CLIENT)
    with doc.transaction():
        doc["title"] = Text(subject)
        doc["body"] = Text(text)
    return doc.get_update()


def merge(state: bytes, updates: Sequence[bytes]) -> tuple[bytes, int]:
    """Merge edit updates into a state.

    An edit's bytes are opaque to the log, so one that is not a Yjs update is
    skipped here (deterministically: the same bytes fail on every node).

    Returns:
        (merged state, number of updates merged).
    """
    try:
        return merge_updates(state, *updates), len(updates)
    except ValueError:
        merged, count = state, 0
        for update in updates:
            try:
                merged = merge_updates(merged, update)
                count += 1
            except ValueError:
                continue
        return merged, count


def _load(state: bytes) -> Doc[Any]:
    doc: Doc[Any] = Doc()
    doc.apply_update(state)
    return doc


def read(state: bytes) -> StateFields:
    """Title, body, tags and reactions of a merged state."""
    doc = _load(state)
    with doc.transaction():  # one read transaction instead of one per access
        title = str(doc.get("title", type=Text))
        body = str(doc.get("body", type=Text))
        tags = sorted(doc.get("tags", type=Map).keys())
        reaction_keys = sorted(doc.get("reactions", type=Map).keys())
    reactions: dict[str, list[str]] = {}
    for key in reaction_keys:
        node, sep, reaction = key.partition(":")
        if sep and reaction:
            reactions.setdefault(node, []).append(reaction)
    return StateFields(title, body, tags, reactions)


def read_texts(state: bytes) -> tuple[str, str]:
    """Just the title and body of a merged state (what the views index)."""
    doc = _load(state)
    with doc.transaction():
        return str(doc.get("title", type=Text)), str(doc.get("body", type=Text))


def _byte_offsets(text: str) -> list[int]:
    """UTF-8 offset of each character position (pycrdt Text indexes are bytes)."""
    offsets = [0]
    for ch in text:
        offsets.append(offsets[-1] + len(ch.encode()))
    return offsets


def replace_text(text: Text, old: str, new: str) -> None:
    """Turn `old` into `new` with the fewest character deletes and inserts."""
    offsets = _byte_offsets(old)
    opcodes = SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in reversed(opcodes):  # from the end: earlier offsets stay valid
        if tag == "equal":
            continue
        if i2 > i1:
            del text[offsets[i1]:offsets[i2]]
        if j2 > j1:
            text.insert(offsets[i1], new[j1:j2])


@dataclass(frozen=True)
class Change:
    """An edit a person asks for; None / empty means leave that part alone."""

    body: str | None = None
    title: str | None = None
    add_tags: Iterable[str] = ()
    remove_tags: Iterable[str] = ()
    add_reactions: Iterable[str] = ()
    remove_reactions: Iterable[str] = ()


def make_update(state: bytes, node: str, change: Change) -> bytes | None:
    """The Yjs update that applies `change` to `state`, made as `node`.

    Returns:
        The update bytes (the delta only), or None if nothing would change.
    """
    doc = _load(state)
    before = doc.get_state()
    with doc.transaction():
        changed = _edit_texts(doc, change)
        changed |= _edit_set(doc.get("tags", type=Map), change.add_tags, change.remove_tags)
        changed |= _edit_set(doc.get("reactions", type=Map),
                             [f"{node}:{r}" for r in change.add_reactions],
                             [f"{node}:{r}" for r in change.remove_reactions])
    # A deletion adds no item, so the state vector alone cannot tell: track it.
    return doc.get_update(before) if changed else None


def _edit_texts(doc: Doc[Any], change: Change) -> bool:
    changed = False
    for name, wanted in (("body", change.body), ("title", change.title)):
        text = doc.get(name, type=Text)
        current = str(text)
        if wanted is not None and current != wanted:
            replace_text(text, current, wanted)
            changed = True
    return changed


def _edit_set(members: Map[Any], add: Iterable[str], remove: Iterable[str]) -> bool:
    changed = False
    for key in add:
        if key not in members:
            members[key] = True
            changed = True
    for key in remove:
        if key in members:
            del members[key]
            changed = True
    return changed
