"""The sans-IO SAM pieces: line buffer fed byte by byte, reply parser, error mapping, builders."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cliqueclique.errors import CliqueError
from cliqueclique.net import sam
from cliqueclique.net.errors import (
    SAM_RESULT_ERRORS,
    NetError,
    SamCantReachPeer,
    SamCommandError,
    SamError,
    SamI2PError,
    SamProtocolError,
    SamUnknownResult,
)

REPLIES = (
    b"HELLO REPLY RESULT=OK VERSION=3.1\n"
    b"SESSION STATUS RESULT=I2P_ERROR MESSAGE=Socket already in use\r\n"
    b'STREAM STATUS RESULT=CANT_REACH_PEER MESSAGE="Can\'t reach \\"peer\\""\n'
    b"STREAM STATUS RESULT=OK\n"
    b"raw stream bytes \x00\xff after the last line"
)


def lines_fed(chunks: list[bytes]) -> tuple[list[str], bytes]:
    """Feed `chunks` one at a time, collecting every line as soon as it is complete."""
    buf = sam.LineBuffer()
    lines = []
    for chunk in chunks:
        buf.feed(chunk)
        while (line := buf.next_line()) is not None:
            lines.append(line)
    return lines, buf.take_rest()


def test_line_buffer_byte_at_a_time() -> None:
    buf = sam.LineBuffer()
    first = b"HELLO REPLY RESULT=OK VERSION=3.1\n"
    for byte in first[:-1]:
        buf.feed(bytes([byte]))
        assert buf.next_line() is None  # never a partial line
    buf.feed(b"\n")
    assert buf.next_line() == "HELLO REPLY RESULT=OK VERSION=3.1"
    assert buf.next_line() is None and len(buf) == 0


def test_byte_at_a_time_equals_all_at_once() -> None:
    one_by_one = lines_fed([bytes([b]) for b in REPLIES])
    at_once = lines_fed([REPLIES])
    assert one_by_one == at_once
    lines, rest = one_by_one
    assert lines == [
        "HELLO REPLY RESULT=OK VERSION=3.1",
        "SESSION STATUS RESULT=I2P_ERROR MESSAGE=Socket already in use",
        'STREAM STATUS RESULT=CANT_REACH_PEER MESSAGE="Can\'t reach \\"peer\\""',
        "STREAM STATUS RESULT=OK",
    ]
    assert rest == b"raw stream bytes \x00\xff after the last line"


@given(st.lists(st.integers(1, len(REPLIES) - 1), unique=True).map(sorted))
def test_any_split_gives_the_same_lines(cuts: list[int]) -> None:
    bounds = [0, *cuts, len(REPLIES)]
    chunks = [REPLIES[a:b] for a, b in itertools.pairwise(bounds)]
    assert lines_fed(chunks) == lines_fed([REPLIES])


def test_over_long_line_is_refused_before_its_end() -> None:
    buf = sam.LineBuffer(max_line=64)
    buf.feed(b"x" * 64)
    assert buf.next_line() is None
    buf.feed(b"x")
    with pytest.raises(SamProtocolError, match="longer than 64"):
        buf.next_line()


def test_over_long_complete_line_is_refused() -> None:
    buf = sam.LineBuffer(max_line=8)
    buf.feed(b"0123456789\n")
    with pytest.raises(SamProtocolError, match="longer than 8"):
        buf.next_line()


def test_non_ascii_line_is_refused() -> None:
    buf = sam.LineBuffer()
    buf.feed("HELLO REPLY RESULT=ÖK\n".encode())
    with pytest.raises(SamProtocolError, match="not ASCII"):
        buf.next_line()


def test_parse_reply_options() -> None:
    reply = sam.parse_reply('NAMING REPLY RESULT=OK NAME=ME VALUE=abc= FLAG K="a b\\\\c"')
    assert (reply.topic, reply.kind, reply.result) == ("NAMING", "REPLY", "OK")
    assert reply.options == {"RESULT": "OK", "NAME": "ME", "VALUE": "abc=", "FLAG": "",
                             "K": "a b\\c"}
    assert reply.require("VALUE") == "abc="
    with pytest.raises(SamProtocolError, match="lacks PRIV="):
        reply.require("PRIV")


def test_unquoted_i2pd_message_runs_to_end_of_line() -> None:
    reply = sam.parse_reply("SESSION STATUS RESULT=I2P_ERROR MESSAGE=Socket already in use")
    assert reply.message == "Socket already in use"
    with pytest.raises(SamI2PError) as info:
        reply.raise_for_result()
    assert info.value.message == "Socket already in use"
    assert str(info.value) == "SAM I2P_ERROR: Socket already in use"
    assert info.value.reply == reply.line


@pytest.mark.parametrize("line", ["HELLO", "", " REPLY", 'STREAM STATUS MESSAGE="open'])
def test_malformed_replies(line: str) -> None:
    with pytest.raises(SamProtocolError):
        sam.parse_reply(line)


@pytest.mark.parametrize("code", sorted(SAM_RESULT_ERRORS))
def test_every_result_code_has_its_own_error_keeping_the_message(code: str) -> None:
    reply = sam.parse_reply(f'STREAM STATUS RESULT={code} MESSAGE="details for {code}"')
    with pytest.raises(SamError) as info:
        reply.raise_for_result()
    error = info.value
    assert type(error) is SAM_RESULT_ERRORS[code]
    assert error.code == code
    assert error.message == f"details for {code}"
    assert isinstance(error, NetError) and isinstance(error, CliqueError)
    assert error.__doc__  # one-line docstring per class


def test_error_classes_are_distinct() -> None:
    classes = list(SAM_RESULT_ERRORS.values())
    assert len(set(classes)) == len(classes) >= 12
    assert {c.code for c in classes} >= {
        "CANT_REACH_PEER", "DUPLICATED_DEST", "DUPLICATED_ID", "I2P_ERROR", "INVALID_ID",
        "INVALID_KEY", "KEY_NOT_FOUND", "PEER_NOT_FOUND", "TIMEOUT", "NOVERSION"}


def test_unknown_result_code_keeps_code_and_message() -> None:
    reply = sam.parse_reply('SESSION STATUS RESULT=BRAND_NEW MESSAGE="what"')
    with pytest.raises(SamUnknownResult) as info:
        reply.raise_for_result()
    assert info.value.code == "BRAND_NEW" and info.value.message == "what"


def test_ok_and_resultless_replies_do_not_raise() -> None:
    sam.parse_reply("STREAM STATUS RESULT=OK").raise_for_result()
    sam.parse_reply("DEST REPLY PUB=a PRIV=b").raise_for_result()


def test_expect_checks_error_before_kind() -> None:
    # i2pd answers a failed STREAM ACCEPT with SESSION STATUS: the error must win
    with pytest.raises(SamI2PError):
        sam.parse_reply("SESSION STATUS RESULT=I2P_ERROR MESSAGE=x").expect("STREAM", "STATUS")
    with pytest.raises(SamProtocolError, match="expected a STREAM STATUS reply"):
        sam.parse_reply("SESSION STATUS RESULT=OK").expect("STREAM", "STATUS")
    reply = sam.parse_reply("STREAM STATUS RESULT=OK")
    assert reply.expect("STREAM", "STATUS") is reply


def test_accept_line() -> None:
    assert sam.parse_accept_line("AbC~-= FROM_PORT=0 TO_PORT=0") == (
        "AbC~-=", {"FROM_PORT": "0", "TO_PORT": "0"})
    assert sam.parse_accept_line("AbC") == ("AbC", {})
    with pytest.raises(SamCantReachPeer):
        sam.parse_accept_line("STREAM STATUS RESULT=CANT_REACH_PEER")
    with pytest.raises(SamProtocolError, match="caller's destination"):
        sam.parse_accept_line("STREAM STATUS RESULT=OK")
    with pytest.raises(SamProtocolError):
        sam.parse_accept_line("")


def test_command_builders() -> None:
    assert sam.hello() == b"HELLO VERSION MIN=3.1 MAX=3.1\n"
    assert sam.session_create("n1", "KEYS=", {"inbound.length": 0}) == (
        b"SESSION CREATE STYLE=STREAM ID=n1 DESTINATION=KEYS= inbound.length=0\n")
    assert sam.session_create("n1", "TRANSIENT") == (
        b"SESSION CREATE STYLE=STREAM ID=n1 DESTINATION=TRANSIENT\n")
    assert sam.stream_connect("n1", "x.b32.i2p") == (
        b"STREAM CONNECT ID=n1 DESTINATION=x.b32.i2p SILENT=false\n")
    assert sam.stream_accept("n1") == b"STREAM ACCEPT ID=n1 SILENT=false\n"
    assert sam.naming_lookup("ME") == b"NAMING LOOKUP NAME=ME\n"
    assert sam.dest_generate() == b"DEST GENERATE SIGNATURE_TYPE=7\n"


@pytest.mark.parametrize("bad", ["a b", "a\nSESSION CREATE", "", 'q"', "x\x00", "a/b", "é"])
def test_builders_refuse_injection(bad: str) -> None:
    with pytest.raises(SamCommandError):
        sam.stream_connect("n1", bad)
    with pytest.raises(SamCommandError):
        sam.session_create(bad, "TRANSIENT")
    with pytest.raises(SamCommandError):
        sam.session_create("n1", "TRANSIENT", {"opt": bad})
