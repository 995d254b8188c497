"""The sans-IO handshake: who may pass, and every way an attacker should fail."""

from __future__ import annotations

import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from cliqueclique.eventlog.keys import node_id
from cliqueclique.net.errors import (
    BadHandshakeSignature,
    HandshakeDecryptionFailed,
    LocalHandshakeError,
    MalformedHandshake,
    UnsupportedHandshakeVersion,
    WeakEphemeralKey,
    WrongPeer,
)
from cliqueclique.net.framing import FrameOpener, FrameSealer
from cliqueclique.net.handshake import (
    FINISH_SIZE,
    HELLO_SIZE,
    MAGIC,
    REPLY_SIZE,
    VERSION,
    HandshakeResult,
    Initiator,
    Responder,
)

ALICE, BOB, MALLORY = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()


def run(initiator: Initiator, responder: Responder) -> tuple[HandshakeResult, HandshakeResult]:
    finish = initiator.receive_reply(responder.receive_hello(initiator.hello()))
    theirs = responder.receive_finish(finish)
    assert initiator.result is not None
    return initiator.result, theirs


class Impostor(Responder):
    """Shows `claimed`'s public key but can only sign with its own key."""

    def __init__(self, key: SigningKey, claimed: SigningKey) -> None:
        super().__init__(key)
        self.claimed = claimed

    def _proof(self, label: bytes, transcript: bytes) -> tuple[bytes, bytes]:
        _, signature = super()._proof(label, transcript)
        return bytes(self.claimed.verify_key), signature


class ImpostorInitiator(Initiator):
    def __init__(self, key: SigningKey, expected: str, claimed: SigningKey) -> None:
        super().__init__(key, expected)
        self.claimed = claimed

    def _proof(self, label: bytes, transcript: bytes) -> tuple[bytes, bytes]:
        _, signature = super()._proof(label, transcript)
        return bytes(self.claimed.verify_key), signature


def test_both_sides_learn_each_other_and_share_directional_keys() -> None:
    mine, theirs = run(Initiator(ALICE, node_id(BOB)), Responder(BOB))
    assert mine.peer_id == node_id(BOB) and theirs.peer_id == node_id(ALICE)
    assert mine.send_key == theirs.receive_key and mine.receive_key == theirs.send_key
    assert mine.send_key != mine.receive_key
    assert mine.transcript == theirs.transcript
    sealed = FrameSealer(mine.send_key).seal(b"hi")[4:]
    assert FrameOpener(theirs.receive_key).open(sealed) == b"hi"


def test_every_handshake_has_fresh_keys() -> None:
    first, _ = run(Initiator(ALICE, node_id(BOB)), Responder(BOB))
    second, _ = run(Initiator(ALICE, node_id(BOB)), Responder(BOB))
    assert first.send_key != second.send_key and first.transcript != second.transcript


def test_message_sizes() -> None:
    initiator, responder = Initiator(ALICE, node_id(BOB)), Responder(BOB)
    hello = initiator.hello()
    reply = responder.receive_hello(hello)
    finish = initiator.receive_reply(reply)
    assert (len(hello), len(reply), len(finish)) == (HELLO_SIZE, REPLY_SIZE, FINISH_SIZE)
    assert node_id(BOB).encode() not in reply and bytes(BOB.verify_key) not in reply
    assert bytes(ALICE.verify_key) not in finish  # identities travel encrypted


def test_expected_id_is_case_insensitive() -> None:
    mine, _ = run(Initiator(ALICE, node_id(BOB).upper()), Responder(BOB))
    assert mine.peer_id == node_id(BOB)


def test_wrong_expected_id_fails_with_both_ids() -> None:
    initiator = Initiator(ALICE, node_id(BOB))
    reply = Responder(MALLORY).receive_hello(initiator.hello())
    with pytest.raises(WrongPeer) as info:
        initiator.receive_reply(reply)
    assert info.value.expected == node_id(BOB)
    assert info.value.actual == node_id(MALLORY)
    assert node_id(BOB)[:16] in str(info.value) and node_id(MALLORY)[:16] in str(info.value)
    assert initiator.result is None


def test_impostor_responder_claiming_bobs_key_fails_signature() -> None:
    initiator = Initiator(ALICE, node_id(BOB))
    reply = Impostor(MALLORY, claimed=BOB).receive_hello(initiator.hello())
    with pytest.raises(BadHandshakeSignature, match=node_id(BOB)[:16]):
        initiator.receive_reply(reply)


def test_impostor_initiator_claiming_alices_key_fails_signature() -> None:
    initiator = ImpostorInitiator(MALLORY, node_id(BOB), claimed=ALICE)
    responder = Responder(BOB)
    finish = initiator.receive_reply(responder.receive_hello(initiator.hello()))
    with pytest.raises(BadHandshakeSignature):
        responder.receive_finish(finish)
    assert responder.result is None


def test_replayed_initiator_messages_fail() -> None:
    # Mallory recorded a whole handshake of Alice with Bob and replays Alice's part.
    initiator, responder = Initiator(ALICE, node_id(BOB)), Responder(BOB)
    hello = initiator.hello()
    finish = initiator.receive_reply(responder.receive_hello(hello))
    responder.receive_finish(finish)
    fresh = Responder(BOB)  # Bob's next connection uses a new ephemeral key
    fresh.receive_hello(hello)
    with pytest.raises(HandshakeDecryptionFailed, match="replayed"):
        fresh.receive_finish(finish)


def test_replayed_responder_reply_fails() -> None:
    old_reply = Responder(BOB).receive_hello(Initiator(ALICE, node_id(BOB)).hello())
    initiator = Initiator(ALICE, node_id(BOB))
    initiator.hello()
    with pytest.raises(HandshakeDecryptionFailed):
        initiator.receive_reply(old_reply)


def test_relayed_reply_with_substituted_ephemeral_fails() -> None:
    # A man in the middle swaps in his own ephemeral key but cannot re-encrypt Bob's proof.
    initiator = Initiator(ALICE, node_id(BOB))
    reply = Responder(BOB).receive_hello(initiator.hello())
    forged = bytes(PrivateKey.generate().public_key) + reply[32:]
    with pytest.raises(HandshakeDecryptionFailed):
        initiator.receive_reply(forged)


@pytest.mark.parametrize("index", [32, 60, REPLY_SIZE - 1])
def test_tampered_reply_fails(index: int) -> None:
    initiator = Initiator(ALICE, node_id(BOB))
    reply = bytearray(Responder(BOB).receive_hello(initiator.hello()))
    reply[index] ^= 0x80
    with pytest.raises(HandshakeDecryptionFailed):
        initiator.receive_reply(bytes(reply))


def test_tampered_hello_changes_the_transcript() -> None:
    initiator, responder = Initiator(ALICE, node_id(BOB)), Responder(BOB)
    hello = bytearray(initiator.hello())
    hello[-1] ^= 0x01  # a different (valid) ephemeral key: the responder's proof will not fit
    reply = responder.receive_hello(bytes(hello))
    with pytest.raises(HandshakeDecryptionFailed):
        initiator.receive_reply(reply)


@pytest.mark.parametrize("hello", [b"", b"CLQ", bytes(HELLO_SIZE), b"XYZ\x01" + bytes(32),
                                   MAGIC + b"\x01" + bytes(33)])
def test_malformed_hello(hello: bytes) -> None:
    with pytest.raises(MalformedHandshake):
        Responder(BOB).receive_hello(hello)


@pytest.mark.parametrize("version", [1, 2, 3, 5])
def test_unknown_version(version: int) -> None:
    # version 1 sent frames uncompressed, version 2 knew no compact events, version 3 no
    # center seqnos: refused rather than misread
    with pytest.raises(UnsupportedHandshakeVersion, match=f"version {version}, we speak {VERSION}"):
        Responder(BOB).receive_hello(MAGIC + bytes([version])
                                     + bytes(PrivateKey.generate().public_key))


def test_low_order_ephemeral_key_is_refused() -> None:
    with pytest.raises(WeakEphemeralKey):
        Responder(BOB).receive_hello(MAGIC + bytes([VERSION]) + bytes(32))
    initiator = Initiator(ALICE, node_id(BOB))
    initiator.hello()
    with pytest.raises(WeakEphemeralKey):
        initiator.receive_reply(bytes(REPLY_SIZE))


@pytest.mark.parametrize("size", [0, REPLY_SIZE - 1, REPLY_SIZE + 1])
def test_malformed_reply_size(size: int) -> None:
    initiator = Initiator(ALICE, node_id(BOB))
    initiator.hello()
    with pytest.raises(MalformedHandshake, match=f"reply of {size} bytes"):
        initiator.receive_reply(bytes(size))


def test_malformed_finish_size() -> None:
    responder = Responder(BOB)
    responder.receive_hello(Initiator(ALICE, node_id(BOB)).hello())
    with pytest.raises(MalformedHandshake, match="finish of 5 bytes"):
        responder.receive_finish(bytes(5))


def test_local_misuse_is_a_local_error() -> None:
    initiator = Initiator(ALICE, node_id(BOB))
    with pytest.raises(LocalHandshakeError):
        initiator.receive_reply(bytes(REPLY_SIZE))
    initiator.hello()
    with pytest.raises(LocalHandshakeError):
        initiator.hello()
    with pytest.raises(LocalHandshakeError):
        Responder(BOB).receive_finish(bytes(FINISH_SIZE))
