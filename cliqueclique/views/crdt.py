"""Mutable document state as pycrdt (Yjs) updates: seed, merge, read, edit.

State schema (root types of one Yjs document per forum document):

- ``title``: Text, seeded with the document's subject;
- ``body``: Text, seeded with the document's text;
- ``tags``: Map tag -> True (a set: a tag is set while its key is present);
- ``properties``: Map name -> string value, laid over the document's
  immutable properties. Removing a property writes None under its name (a
  tombstone) rather than deleting the key, so the removal also hides a
  property of the same name in the document body, and a concurrent set and
  remove resolve like any two sets (Yjs keeps one, the same on every node).
  Values that are neither strings nor None (another program's edits) are
  ignored, and so are names under ``cliqueclique.``: those properties say
  what a document is (a directory, a trie node) and stay as posted.

Reactions are not part of the state: they are `reaction` events of their own
(see `reactions.py`), so anyone may react without the right to edit.

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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from difflib import SequenceMatcher
from typing import Any

from pycrdt import Doc, Map, Text, merge_updates

#: The client id of the seed items; the same on every node by construction.
SEED_CLIENT = 1
#: Property names edits cannot change (see the module docstring).
RESERVED_PREFIX = "cliqueclique."

#: name -> value set by edits, or None where an edit removed the property
Overlay = dict[str, str | None]


@dataclass(frozen=True)
class StateFields:
    """What a merged state means to a reader."""

    title: str
    body: str
    tags: list[str] = field(default_factory=list)
    properties: Overlay = field(default_factory=dict)


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
    """Title, body, tags and property overlay of a merged state."""
    doc = _load(state)
    with doc.transaction():  # one read transaction instead of one per access
        title = str(doc.get("title", type=Text))
        body = str(doc.get("body", type=Text))
        tags = sorted(doc.get("tags", type=Map).keys())
        properties = _overlay(doc)
    return StateFields(title, body, tags, properties)


def read_indexed(state: bytes) -> tuple[str, str, Overlay]:
    """Just what the views index: title, body and property overlay."""
    doc = _load(state)
    with doc.transaction():
        return str(doc.get("title", type=Text)), str(doc.get("body", type=Text)), _overlay(doc)


def _overlay(doc: Doc[Any]) -> Overlay:
    return {name: value for name, value in sorted(doc.get("properties", type=Map).items())
            if (value is None or isinstance(value, str)) and not name.startswith(RESERVED_PREFIX)}


def merged_properties(base: Mapping[str, str], overlay: Mapping[str, str | None]) -> dict[str, str]:
    """The document body's properties with the edits' overlay laid over them."""
    merged = dict(base)
    for name, value in overlay.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return dict(sorted(merged.items()))


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
    """An edit a person asks for; None / empty means leave that part alone.

    The property fields are keyword-only, so a call written for the old
    positional reaction fields fails loudly instead of setting properties.
    """

    body: str | None = None
    title: str | None = None
    add_tags: Iterable[str] = ()
    remove_tags: Iterable[str] = ()
    _: KW_ONLY
    set_properties: Mapping[str, str] = field(default_factory=dict)
    remove_properties: Iterable[str] = ()


def make_update(state: bytes, node: str, change: Change,
                base_properties: Mapping[str, str] | None = None) -> bytes | None:
    """The Yjs update that applies `change` to `state`.

    Args:
        state: the merged state the edit is made against.
        node: the editing node (no part of the state records it today; kept
            so callers need not know that).
        change: what to change.
        base_properties: the document body's own properties, so setting a
            property to the value it already has, or removing one it does
            not have, is no change.

    Returns:
        The update bytes (the delta only), or None if nothing would change.
    """
    doc = _load(state)
    before = doc.get_state()
    with doc.transaction():
        changed = _edit_texts(doc, change)
        changed |= _edit_set(doc.get("tags", type=Map), change.add_tags, change.remove_tags)
        changed |= _edit_properties(doc, change, base_properties or {})
    # A deletion adds no item, so the state vector alone cannot tell: track it.
    return doc.get_update(before) if changed else None


def _edit_properties(doc: Doc[Any], change: Change, base: Mapping[str, str]) -> bool:
    members = doc.get("properties", type=Map)
    current = merged_properties(base, _overlay(doc))
    changed = False
    for name, value in change.set_properties.items():
        if current.get(name) != value:
            members[name] = value
            changed = True
    for name in change.remove_properties:
        if name in current:
            members[name] = None  # a tombstone: see the module docstring
            changed = True
    return changed


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
