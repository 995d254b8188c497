"""A deletion leaves none of the document's content in the database files."""

from __future__ import annotations

from pathlib import Path

from cliqueclique.eventlog import Action, Author, SQLiteStore
from cliqueclique.views import (
    BatchSigner,
    Change,
    Filters,
    add_entry,
    change_editors,
    create_directory,
    document_state,
    edit_document,
    editors,
    find,
    mark,
    react,
    reactions,
    replay,
    retract,
    thread,
)

SECRETS = ["Subj-Zx81qVt6w", "Body-Kq29wRb3n", "Edit-Pp4r7Ld9s", "Tag-Mm3vGy8tc", "Prop-Hh5cNf2kx", "Title-Ww0yJq5zd", "Setprop-Jj6dXc4pm"]


def raw_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def traces(data: bytes) -> list[str]:
    """Secrets found in the bytes, as written or as the lower-case tokens FTS5 keeps.

    Each token is nine characters, so that random bytes (signatures, keys) match one by chance
    about once in 10^21 files; with four-character tokens a run in a few hundred failed that way.
    """
    found = []
    for secret in SECRETS:
        for form in {secret, secret.lower(), secret.split("-")[1].lower()}:
            if form.encode() in data:
                found.append(form)
    return found


def test_deleted_content_leaves_no_bytes_in_the_files(store: SQLiteStore, authors: list[Author]) -> None:
    a, b, _ = authors
    directory = create_directory(BatchSigner(a.key, store), store, "Index").id
    neighbours = [a.document(f"Neighbour {i}", f"ordinary text number {i}") for i in range(50)]
    secret = a.document("Subj-Zx81qVt6w about things", "Body-Kq29wRb3n is the body", editors=[b.id],
                        properties={"note": "Prop-Hh5cNf2kx"})
    edit_document(b, store, secret.id, Change(body="Body-Kq29wRb3n is the body. Edit-Pp4r7Ld9s added",
                                              title="Title-Ww0yJq5zd", add_tags=["Tag-Mm3vGy8tc"],
                                              set_properties={"set": "Setprop-Jj6dXc4pm"}))
    react(b, store, secret.id, "+1")
    change_editors(a, store, secret.id, remove=[b.id])
    reply, _ = b.post("A reply that stays", "it quotes nothing", parent=secret.id)
    mark(a, store, secret.id, Action.BOOKMARK)
    add_entry(a.key, store, directory, secret.id)
    for doc in neighbours[:5]:
        add_entry(a.key, store, directory, doc.id)
    assert document_state(store, secret.id).title == "Title-Ww0yJq5zd"
    assert len(set(traces(raw_bytes(store.path)))) >= len(SECRETS)  # the check can see them

    retract(a, store, secret.id)

    assert traces(raw_bytes(store.path)) == []
    assert document_state(store, secret.id).deleted
    assert [e.status for _, e, _ in thread(store, secret.id).walk()] == ["deleted", "ok"]
    assert find(store, Filters(text="Kq29wRb3n")) == []
    assert find(store, Filters(properties={"set": "Setprop-Jj6dXc4pm"})) == []
    assert reactions(store, secret.id) == {} and editors(store, secret.id) == []
    assert store.verify() == []  # headers, chains and signatures survive the purge
    assert reply.id in {s.id for s in find(store, Filters(text="quotes"))}
    replay(store)
    assert traces(raw_bytes(store.path)) == []
