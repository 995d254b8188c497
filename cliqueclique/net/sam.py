"""SAM v3 line protocol, sans-IO (the shape of h11's readers and writers).

Theory of operation: a SAM bridge speaks one text line per command and per
reply over TCP. A session's control socket lives as long as the session; every
STREAM CONNECT / STREAM ACCEPT uses a fresh socket that, after its status line
(and, for ACCEPT, one line naming the caller), turns into the raw byte stream
of the I2P connection. So the reader must hand over any bytes that followed the
last line untouched, and must never assume one `recv` is one line: TCP may
split a line anywhere or join it with stream data.

Three pieces, none doing I/O:
- `LineBuffer`: feed bytes, take complete lines, take the rest as raw bytes.
- Command builders (`hello`, `session_create`, ...): pure functions returning
  the bytes of one command line; values are checked so nothing a caller passes
  can inject a second command.
- `parse_reply` and `SamReply.raise_for_result`: a reply line becomes a
  `SamReply`; a RESULT= other than OK raises the `SamError` subclass of that
  code, keeping the bridge's MESSAGE= text.

i2pd quirk handled here: it writes ``MESSAGE=`` unquoted even when the text has
spaces ("MESSAGE=Socket already in use"), so an unquoted MESSAGE value runs to
the end of the line. Quoted values may contain spaces and backslash escapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import SAM_RESULT_ERRORS, SamCommandError, SamProtocolError, SamUnknownResult

SAM_VERSION = "3.1"
MAX_LINE = 16 * 1024  # the longest real reply (SESSION STATUS with private keys) is ~1.2 KB
ED25519_SIGNATURE_TYPE = 7
_FORBIDDEN = frozenset(' \t\r\n"\'<>/\\\x00')


class LineBuffer:
    """Accumulates received bytes and releases only complete lines."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._buf = bytearray()
        self._max_line = max_line
        self._scanned = 0  # bytes already known to hold no newline

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buf += data

    def next_line(self) -> str | None:
        """Pop one complete line (without the newline), or None if none is complete.

        Raises:
            SamProtocolError: a line is longer than the limit or is not ASCII.
        """
        end = self._buf.find(b"\n", self._scanned)
        if end < 0:
            self._scanned = len(self._buf)
            if len(self._buf) > self._max_line:
                raise SamProtocolError(f"SAM line longer than {self._max_line} bytes")
            return None
        if end > self._max_line:
            raise SamProtocolError(f"SAM line longer than {self._max_line} bytes")
        raw = bytes(self._buf[:end])
        del self._buf[: end + 1]
        self._scanned = 0
        try:
            return raw.decode("ascii").rstrip("\r")
        except UnicodeDecodeError:
            raise SamProtocolError("SAM line is not ASCII text") from None

    def take_rest(self) -> bytes:
        """Remove and return every buffered byte (stream data after the last line)."""
        rest = bytes(self._buf)
        self._buf.clear()
        self._scanned = 0
        return rest

    def __len__(self) -> int:
        return len(self._buf)


@dataclass(frozen=True)
class SamReply:
    """One parsed reply line, e.g. ``STREAM STATUS RESULT=OK``."""

    topic: str
    kind: str
    options: Mapping[str, str] = field(default_factory=dict)
    line: str = ""

    @property
    def result(self) -> str | None:
        """The RESULT= value, or None when the reply has none (e.g. DEST REPLY)."""
        return self.options.get("RESULT")

    @property
    def message(self) -> str:
        """The bridge's MESSAGE= text ('' when absent)."""
        return self.options.get("MESSAGE", "")

    def raise_for_result(self) -> None:
        """Raise the error class of a RESULT= other than OK; do nothing for OK or no RESULT.

        Raises:
            SamError: the subclass mapped from the code (`SamUnknownResult` for new codes).
        """
        code = self.result
        if code is None or code == "OK":
            return
        cls = SAM_RESULT_ERRORS.get(code)
        if cls is None:
            raise SamUnknownResult(code, self.message, self.line)
        raise cls(self.message, self.line)

    def expect(self, topic: str, kind: str) -> SamReply:
        """Check the reply's RESULT, then that it answers the command we sent.

        Returns:
            self, for chaining.

        Raises:
            SamError: RESULT= is an error code (checked first: i2pd answers some
                failures of STREAM commands with ``SESSION STATUS``).
            SamProtocolError: an OK reply of another kind than expected.
        """
        self.raise_for_result()
        if (self.topic, self.kind) != (topic, kind):
            raise SamProtocolError(f"expected a {topic} {kind} reply, got {self.line[:120]!r}")
        return self

    def require(self, key: str) -> str:
        """The value of option `key`.

        Raises:
            SamProtocolError: the reply lacks it.
        """
        try:
            return self.options[key]
        except KeyError:
            raise SamProtocolError(f"{self.topic} {self.kind} reply lacks {key}=") from None


def parse_reply(line: str) -> SamReply:
    """Parse one reply line (without its newline).

    Args:
        line: e.g. ``SESSION STATUS RESULT=I2P_ERROR MESSAGE="no tunnels"``.

    Returns:
        The reply; keys given without ``=`` map to ''.

    Raises:
        SamProtocolError: fewer than two words, or an unterminated quoted value.
    """
    words = line.split(" ", 2)
    if len(words) < 2 or not words[0] or not words[1]:
        raise SamProtocolError(f"malformed SAM reply {line[:120]!r}")
    rest = words[2] if len(words) == 3 else ""
    return SamReply(words[0], words[1], _parse_options(rest, line), line)


def _parse_options(text: str, line: str) -> dict[str, str]:
    options: dict[str, str] = {}
    i = 0
    while i < len(text):
        if text[i] == " ":
            i += 1
            continue
        key_end = _scan_until(text, i, "= ")
        key = text[i:key_end]
        if key_end >= len(text) or text[key_end] == " ":
            options[key] = ""
            i = key_end
        elif key_end + 1 < len(text) and text[key_end + 1] == '"':
            options[key], i = _scan_quoted(text, key_end + 2, line)
        elif key == "MESSAGE":
            options[key], i = text[key_end + 1:].rstrip(), len(text)
        else:
            end = _scan_until(text, key_end + 1, " ")
            options[key], i = text[key_end + 1:end], end
    return options


def _scan_until(text: str, start: int, stops: str) -> int:
    i = start
    while i < len(text) and text[i] not in stops:
        i += 1
    return i


def _scan_quoted(text: str, start: int, line: str) -> tuple[str, int]:
    out: list[str] = []
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif ch == '"':
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise SamProtocolError(f"unterminated quoted value in SAM reply {line[:120]!r}")


def parse_accept_line(line: str) -> tuple[str, dict[str, str]]:
    """Parse the line an accepted STREAM socket receives first: the caller's destination.

    Returns:
        (base64 destination, options such as FROM_PORT/TO_PORT from SAM 3.2+).

    Raises:
        SamProtocolError: the line is empty or is a reply (an error instead of a caller).
    """
    dest, _, rest = line.partition(" ")
    if not dest or dest in {"STREAM", "SESSION"}:
        if dest:
            parse_reply(line).raise_for_result()
        raise SamProtocolError(f"expected the caller's destination, got {line[:120]!r}")
    return dest, _parse_options(rest, line)


# --- command builders ----------------------------------------------------------------


def _value(value: str | int, what: str) -> str:
    text = str(value)
    if not text or any(ch in _FORBIDDEN or not (ch.isascii() and ch.isprintable()) for ch in text):
        raise SamCommandError(f"invalid SAM {what}: {text[:60]!r}")
    return text


def _command(*words: str, **options: str | int) -> bytes:
    parts = list(words) + [f"{key}={_value(val, key)}" for key, val in options.items()]
    return (" ".join(parts) + "\n").encode("ascii")


def hello(min_version: str = SAM_VERSION, max_version: str = SAM_VERSION) -> bytes:
    """``HELLO VERSION``: the first line on every SAM socket."""
    return _command("HELLO", "VERSION", MIN=min_version, MAX=max_version)


def session_create(
    session_id: str, destination: str, options: Mapping[str, str | int] | None = None,
    style: str = "STREAM",
) -> bytes:
    """``SESSION CREATE``: bind a destination (private keys base64, or TRANSIENT) to a nickname.

    Raises:
        SamCommandError: a value holds whitespace, quotes or other unsafe characters.
    """
    extra = " ".join(f"{_value(k, 'option')}={_value(v, k)}" for k, v in (options or {}).items())
    head = _command("SESSION", "CREATE", STYLE=style, ID=session_id, DESTINATION=destination)
    return head[:-1] + (b" " + extra.encode("ascii") if extra else b"") + b"\n"


def stream_connect(session_id: str, destination: str, silent: bool = False) -> bytes:
    """``STREAM CONNECT``: open a stream from the session to a destination (b32 or base64)."""
    return _command("STREAM", "CONNECT", ID=session_id, DESTINATION=destination,
                    SILENT=str(silent).lower())


def stream_accept(session_id: str, silent: bool = False) -> bytes:
    """``STREAM ACCEPT``: wait on this socket for the next incoming stream of the session."""
    return _command("STREAM", "ACCEPT", ID=session_id, SILENT=str(silent).lower())


def naming_lookup(name: str) -> bytes:
    """``NAMING LOOKUP``: resolve a name (``ME``, ``<b32>.b32.i2p``) to a full destination."""
    return _command("NAMING", "LOOKUP", NAME=name)


def dest_generate(signature_type: int = ED25519_SIGNATURE_TYPE) -> bytes:
    """``DEST GENERATE``: ask the bridge for a new key pair (ed25519 by default)."""
    return _command("DEST", "GENERATE", SIGNATURE_TYPE=signature_type)
