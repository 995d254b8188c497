"""Mutual authenticated key exchange for every link (sans-IO).

Theory of operation (three messages, SIGMA-style "sign and encrypt"):

    1. I -> R  hello:  "CLQ" version  e_I                    (ephemeral X25519 public key)
    2. R -> I  reply:  e_R  AEAD_kR( R_pub  sig_R(h1) )       h1 = H(prologue, hello, e_R)
    3. I -> R  finish: AEAD_kI( I_pub  sig_I(h2) )            h2 = H(h1, R_pub)

Both sides compute the shared secret s = X25519(e_I, e_R) from fresh ephemeral
keys. Each proves it owns its ed25519 node key by signing the running
transcript hash, which covers both ephemeral keys; so a signature is bound to
this one exchange and a recorded handshake replayed later fails (the other
side's new ephemeral key changes the transcript and the secret). The identity
and signature travel encrypted under keys derived from s, which hides node ids
from passive observers and stops a man in the middle from relabelling a
genuine proof as his own (identity misbinding): he cannot produce ciphertext
under s. The initiator names the node id it dialled and refuses any other
(`WrongPeer`). Finally two traffic keys, one per direction, are derived from s
and h3 = H(h2, I_pub), and the frames of `framing.py` use them.

The version byte names the whole link protocol, the data phase included: in
version 2 every frame's payload is compressed (`compress.py`); since version
3 an `Events` message may carry events in compact form (gossip/messages.py,
eventlog/compact.py), which a version-2 node would misread. A responder
refuses any other version (`UnsupportedHandshakeVersion`), so nodes of
different versions fail at the hello instead of misreading each other's
frames; the version is hashed into the transcript, so a man in the middle
cannot change it either.

The classes below only transform bytes; `secure.py` moves them over a stream.
Signature verification happens before the id check, so an impostor that
claims someone else's key gets `BadHandshakeSignature`, and an honest node
that simply is not the one we wanted gets `WrongPeer`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from nacl.bindings import (
    crypto_aead_chacha20poly1305_ietf_decrypt,
    crypto_aead_chacha20poly1305_ietf_encrypt,
    crypto_scalarmult,
)
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.public import PrivateKey
from nacl.signing import SigningKey, VerifyKey

from .errors import (
    BadHandshakeSignature,
    HandshakeDecryptionFailed,
    LocalHandshakeError,
    MalformedHandshake,
    UnsupportedHandshakeVersion,
    WeakEphemeralKey,
    WrongPeer,
)
from .framing import TAG_SIZE

#: 2: every data frame's payload is compressed (compress.py); a version-1 node
#: sent them as they are, so the two must not talk (refused at the hello).
#: 3: events may travel in compact form (eventlog/compact.py), which a
#: version-2 node would take for truncated messages and blame us for.
#: 4: updates carry the center's seqno and `SeqnoRequest` exists (gossip/election.py).
VERSION = 4
MAGIC = b"CLQ"
PROLOGUE = b"cliqueclique link handshake"
KEY_SIZE = 32
SIG_SIZE = 64
PROOF_SIZE = KEY_SIZE + SIG_SIZE + TAG_SIZE
HELLO_SIZE = len(MAGIC) + 1 + KEY_SIZE
REPLY_SIZE = KEY_SIZE + PROOF_SIZE
FINISH_SIZE = PROOF_SIZE
MAX_MESSAGE = max(HELLO_SIZE, REPLY_SIZE, FINISH_SIZE)
_ZERO_NONCE = bytes(12)
_RESPONDER_LABEL = b"cliqueclique responder proof"
_INITIATOR_LABEL = b"cliqueclique initiator proof"


@dataclass(frozen=True)
class HandshakeResult:
    """What a completed handshake yields."""

    peer_id: str  # hex of the peer's ed25519 public key, as `node_id` gives it
    send_key: bytes
    receive_key: bytes
    transcript: bytes  # h3: unique to this link, usable as a channel binding


def _hash(*parts: bytes) -> bytes:
    h = hashlib.blake2b(digest_size=32)
    for part in parts:
        h.update(len(part).to_bytes(4, "big"))
        h.update(part)
    return h.digest()


def _derive(secret: bytes, transcript: bytes, label: bytes) -> bytes:
    return hashlib.blake2b(transcript + label, key=secret, digest_size=KEY_SIZE).digest()


def _shared_secret(ours: PrivateKey, theirs: bytes) -> bytes:
    try:
        secret = crypto_scalarmult(bytes(ours), theirs)
    except RuntimeError:  # libsodium refuses low-order points (all-zero output)
        secret = bytes(KEY_SIZE)
    if secret == bytes(KEY_SIZE):
        raise WeakEphemeralKey("the peer's ephemeral key is a low-order point")
    return secret


def _seal_proof(key: bytes, transcript: bytes, public: bytes, signature: bytes) -> bytes:
    return crypto_aead_chacha20poly1305_ietf_encrypt(
        public + signature, transcript, _ZERO_NONCE, key)


def _open_proof(key: bytes, transcript: bytes, sealed: bytes, label: bytes) -> bytes:
    """Decrypt and verify a proof; return the prover's public key."""
    try:
        plain = crypto_aead_chacha20poly1305_ietf_decrypt(sealed, transcript, _ZERO_NONCE, key)
    except CryptoError:
        raise HandshakeDecryptionFailed(
            "handshake message did not decrypt (replayed, tampered or relayed)") from None
    public, signature = plain[:KEY_SIZE], plain[KEY_SIZE:]
    try:
        VerifyKey(public).verify(label + transcript, signature)
    except (BadSignatureError, ValueError):
        raise BadHandshakeSignature(
            f"node {public.hex()[:16]}... did not prove it owns its key") from None
    return public


class _Party:
    def __init__(self, key: SigningKey, ephemeral: PrivateKey | None) -> None:
        self._key = key
        self._ephemeral = ephemeral or PrivateKey.generate()
        self.result: HandshakeResult | None = None

    def _proof(self, label: bytes, transcript: bytes) -> tuple[bytes, bytes]:
        """Our public key and our signature over the transcript (overridable in tests)."""
        return bytes(self._key.verify_key), self._key.sign(label + transcript).signature

    def _finish(self, secret: bytes, h2: bytes, initiator_pub: bytes, peer: bytes,
                initiator: bool) -> HandshakeResult:
        h3 = _hash(h2, initiator_pub)
        i2r = _derive(secret, h3, b"initiator to responder")
        r2i = _derive(secret, h3, b"responder to initiator")
        send, receive = (i2r, r2i) if initiator else (r2i, i2r)
        self.result = HandshakeResult(peer.hex(), send, receive, h3)
        return self.result


class Initiator(_Party):
    """The dialling side: `hello()`, then `receive_reply(reply)` gives the finish message.

    Args:
        key: our node key.
        expected_peer_id: the node id we mean to reach (hex of its public key).
        ephemeral: a fixed ephemeral key (tests only); fresh by default.
    """

    def __init__(self, key: SigningKey, expected_peer_id: str,
                 ephemeral: PrivateKey | None = None) -> None:
        super().__init__(key, ephemeral)
        self.expected_peer_id = expected_peer_id.lower()
        self._hello: bytes | None = None

    def hello(self) -> bytes:
        """Message 1."""
        if self._hello is not None:
            raise LocalHandshakeError("hello() was already called")
        self._hello = MAGIC + bytes([VERSION]) + bytes(self._ephemeral.public_key)
        return self._hello

    def receive_reply(self, reply: bytes) -> bytes:
        """Check message 2 and return message 3; `result` is set afterwards.

        Raises:
            MalformedHandshake: wrong size.
            WeakEphemeralKey: the responder's ephemeral key is degenerate.
            HandshakeDecryptionFailed: not encrypted for this exchange (replay, tampering).
            BadHandshakeSignature: the responder does not own the key it shows.
            WrongPeer: it owns a key, but not the one of `expected_peer_id`.
        """
        if self._hello is None or self.result is not None:
            raise LocalHandshakeError("receive_reply() needs hello() first, and only once")
        if len(reply) != REPLY_SIZE:
            raise MalformedHandshake(f"handshake reply of {len(reply)} bytes, "
                                     f"expected {REPLY_SIZE}")
        e_r = reply[:KEY_SIZE]
        secret = _shared_secret(self._ephemeral, e_r)
        h1 = _hash(PROLOGUE, self._hello, e_r)
        peer = _open_proof(_derive(secret, h1, b"responder proof key"), h1,
                           reply[KEY_SIZE:], _RESPONDER_LABEL)
        if peer.hex() != self.expected_peer_id:
            raise WrongPeer(self.expected_peer_id, peer.hex())
        h2 = _hash(h1, peer)
        public, signature = self._proof(_INITIATOR_LABEL, h2)
        finish = _seal_proof(_derive(secret, h2, b"initiator proof key"), h2, public, signature)
        self._finish(secret, h2, public, peer, initiator=True)
        return finish


class Responder(_Party):
    """The accepting side: `receive_hello(hello)` gives message 2, `receive_finish` ends it.

    Args:
        key: our node key.
        ephemeral: a fixed ephemeral key (tests only); fresh by default.
    """

    def __init__(self, key: SigningKey, ephemeral: PrivateKey | None = None) -> None:
        super().__init__(key, ephemeral)
        self._pending: tuple[bytes, bytes] | None = None  # (secret, h2) between messages

    def receive_hello(self, hello: bytes) -> bytes:
        """Check message 1 and return message 2.

        Raises:
            MalformedHandshake: wrong size or not a cliqueclique handshake.
            UnsupportedHandshakeVersion: a version we do not speak.
            WeakEphemeralKey: the initiator's ephemeral key is degenerate.
        """
        if self._pending is not None or self.result is not None:
            raise LocalHandshakeError("receive_hello() may be called only once")
        if len(hello) != HELLO_SIZE or not hello.startswith(MAGIC):
            raise MalformedHandshake("not a cliqueclique handshake hello")
        if hello[len(MAGIC)] != VERSION:
            raise UnsupportedHandshakeVersion(
                f"peer speaks handshake version {hello[len(MAGIC)]}, we speak {VERSION}")
        secret = _shared_secret(self._ephemeral, hello[-KEY_SIZE:])
        e_r = bytes(self._ephemeral.public_key)
        h1 = _hash(PROLOGUE, hello, e_r)
        public, signature = self._proof(_RESPONDER_LABEL, h1)
        sealed = _seal_proof(_derive(secret, h1, b"responder proof key"), h1, public, signature)
        self._pending = (secret, _hash(h1, public))
        return e_r + sealed

    def receive_finish(self, finish: bytes) -> HandshakeResult:
        """Check message 3 and return the result (the peer's id and traffic keys).

        Raises:
            MalformedHandshake: wrong size.
            HandshakeDecryptionFailed: not encrypted for this exchange (replay, tampering).
            BadHandshakeSignature: the initiator does not own the key it shows.
        """
        if self._pending is None or self.result is not None:
            raise LocalHandshakeError("receive_finish() needs receive_hello() first, and only once")
        if len(finish) != FINISH_SIZE:
            raise MalformedHandshake(f"handshake finish of {len(finish)} bytes, "
                                     f"expected {FINISH_SIZE}")
        secret, h2 = self._pending
        peer = _open_proof(_derive(secret, h2, b"initiator proof key"), h2, finish,
                           _INITIATOR_LABEL)
        return self._finish(secret, h2, peer, peer, initiator=False)
