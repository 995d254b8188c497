"""Address strings: canonical round trips, and a specific error for each kind of bad input."""

from __future__ import annotations

import base64
import hashlib
import os
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cliqueclique.errors import CliqueError
from cliqueclique.net import I2PAddress, MemoryAddress, TcpAddress, parse_address
from cliqueclique.net.address import b32_of_destination, i2p_b64decode, i2p_b64encode
from cliqueclique.net.errors import BadAddress

CERT = bytes([5, 0, 4, 0, 7, 0, 0])  # key certificate, 4 bytes: ed25519 + ElGamal


def destination() -> bytes:
    return os.urandom(384) + CERT


@pytest.mark.parametrize(("text", "expected"), [
    ("tcp:127.0.0.1:7000", TcpAddress("127.0.0.1", 7000)),
    ("tcp:[::1]:65535", TcpAddress("::1", 65535)),
    ("tcp:node-1.example.org:1", TcpAddress("node-1.example.org", 1)),
    ("mem:alice", MemoryAddress("alice")),
    ("  tcp:localhost:80 ", TcpAddress("localhost", 80)),
])
def test_valid_addresses_round_trip(text: str, expected: object) -> None:
    assert parse_address(text) == expected
    assert parse_address(str(expected)) == expected


def test_b32_address_is_lowercased() -> None:
    b32 = "A" * 52 + ".b32.i2p"
    address = parse_address("i2p:" + b32)
    assert address == I2PAddress(b32.lower())
    assert str(address) == "i2p:" + b32.lower()


def test_base64_destination_gives_its_b32_name() -> None:
    dest = destination()
    text = i2p_b64encode(dest)
    address = parse_address("i2p:" + text)
    assert isinstance(address, I2PAddress)
    assert address.base64 == text and address.sam_target == text
    digest = hashlib.sha256(dest).digest()
    assert address.b32 == b32_of_destination(dest)
    assert len(address.b32) == 52 + len(".b32.i2p")
    assert address.b32[:52] == base64.b32encode(digest).decode().lower()[:52]
    assert parse_address(str(address)) == address


@pytest.mark.parametrize(("text", "reason"), [
    ("127.0.0.1:7000", "unknown scheme '127.0.0.1'"),
    ("alice", "missing scheme"),
    ("udp:1.2.3.4:5", "unknown scheme 'udp'"),
    ("tcp:1.2.3.4", "expected tcp:HOST:PORT"),
    ("tcp::7000", "expected tcp:HOST:PORT"),
    ("tcp:1.2.3.4:0", "port '0'"),
    ("tcp:1.2.3.4:65536", "port '65536'"),
    ("tcp:1.2.3.4:-1", "port '-1'"),
    ("tcp:1.2.3.4:http", "port 'http'"),
    ("tcp:::1:7000", "IPv6 addresses must be written in brackets"),
    ("tcp:[::1:7000", "unbalanced"),
    ("tcp:[nothex]:7000", "is not an IPv6 address"),
    ("tcp:bad host:7000", "is not a hostname"),
    ("tcp:-bad.org:7000", "is not a hostname"),
    ("i2p:abc.b32.i2p", "exactly 52 base32"),
    ("i2p:" + "1" * 52 + ".b32.i2p", "exactly 52 base32"),
    ("i2p:forum.i2p", "host names are not supported"),
    ("i2p:not base64!", "not a .b32.i2p name nor I2P base64"),
    ("i2p:" + i2p_b64encode(os.urandom(120)), "a destination has 387-1024 bytes"),
    ("i2p:" + i2p_b64encode(os.urandom(384) + bytes([5, 0, 9]) + os.urandom(4)),
     "does not match its certificate"),
    ("i2p:", "not a .b32.i2p name nor I2P base64"),
    ("mem:", "memory names"),
    ("mem:has space", "memory names"),
])
def test_bad_addresses_raise_bad_address_with_reason(text: str, reason: str) -> None:
    with pytest.raises(BadAddress) as info:
        parse_address(text)
    assert reason in str(info.value)
    assert isinstance(info.value, CliqueError)
    assert info.value.text == text


def test_non_string_is_bad_address() -> None:
    with pytest.raises(BadAddress, match="not a string"):
        parse_address(7000)  # type: ignore[arg-type]


@given(st.binary(min_size=0, max_size=64))
def test_i2p_base64_round_trips(data: bytes) -> None:
    assert i2p_b64decode(i2p_b64encode(data)) == data
    assert "+" not in i2p_b64encode(data) and "/" not in i2p_b64encode(data)


@given(st.integers(1, 65535), st.sampled_from(["127.0.0.1", "::1", "example.org", "10.1.2.3"]))
def test_tcp_round_trip_property(port: int, host: str) -> None:
    address = TcpAddress(host, port)
    assert parse_address(str(address)) == address


def test_cert_length_is_read_big_endian() -> None:
    dest = os.urandom(384) + bytes([5]) + struct.pack("!H", 2) + b"\x00\x07"
    assert parse_address("i2p:" + i2p_b64encode(dest)).b32 == b32_of_destination(dest)  # type: ignore[union-attr]
