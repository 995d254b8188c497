"""Every (state, input) pair of both state machines: allowed ones move, others raise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cliqueclique.gossip.errors import LocalProtocolError
from cliqueclique.gossip.states import (
    DOC_TRANSITIONS,
    LINK_TRANSITIONS,
    DocInput,
    DocState,
    LinkInput,
    LinkState,
    PeerLink,
    advance,
)


@given(st.sampled_from(DocState), st.sampled_from(DocInput))
def test_document_transitions(state: DocState, event: DocInput) -> None:
    if (state, event) in DOC_TRANSITIONS:
        assert advance(DOC_TRANSITIONS, state, event) is DOC_TRANSITIONS[(state, event)]
    else:
        with pytest.raises(LocalProtocolError):
            advance(DOC_TRANSITIONS, state, event)


@given(st.sampled_from(LinkState), st.sampled_from(LinkInput))
def test_link_transitions(state: LinkState, event: LinkInput) -> None:
    link = PeerLink("p" * 64, state=state)
    if (state, event) in LINK_TRANSITIONS:
        link.move(event)
        assert link.state is LINK_TRANSITIONS[(state, event)]
        assert link.live == (link.state in (LinkState.SYNCING, LinkState.SYNCED))
    else:
        with pytest.raises(LocalProtocolError):
            link.move(event)


def test_terminal_states_accept_nothing() -> None:
    assert not [k for k in DOC_TRANSITIONS if k[0] is DocState.DROPPED]
    assert not [k for k in LINK_TRANSITIONS if k[0] is LinkState.CLOSED]
