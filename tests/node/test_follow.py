"""Which replies a node follows: those that become conversations in a followed thread."""

from __future__ import annotations

from pathlib import Path

from cliqueclique.eventlog import Action
from cliqueclique.home import Home
from cliqueclique.node.follow import to_follow
from cliqueclique.views import BatchSigner


def test_a_reply_that_gets_replies_is_followed(tmp_path: Path) -> None:
    local = Home(tmp_path).create_node("me")
    store = local.open_store()
    me = BatchSigner(local.key(), store)
    forum, other = me.document("forum", "f"), me.document("other", "o")
    reply, deeper, stranger = me.document("r", "r"), me.document("d", "d"), me.document("s", "s")
    store.append_many([forum, other, reply, deeper, stranger,
                       me.link(forum.id, reply.id), me.link(reply.id, deeper.id),
                       me.link(other.id, stranger.id), me.subscription(forum.id, Action.SUBSCRIBE)])
    # reply -> deeper makes `reply` a conversation under the followed forum;
    # forum -> reply needs nothing (the forum is followed); other is not followed.
    assert to_follow(store, local.id, {deeper.id: reply.id, reply.id: forum.id, stranger.id: other.id}) == [reply.id]
    store.append(me.subscription(reply.id, Action.SUBSCRIBE))
    assert to_follow(store, local.id, {deeper.id: reply.id}) == []
    store.close()
