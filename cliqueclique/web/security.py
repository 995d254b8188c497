"""What keeps other web sites and other machines out of the local web UI.

The UI acts as the node's owner (it posts, deletes, bans), so any page the
owner's browser opens must not be able to drive it:

- Host check (DNS rebinding): a hostile site can point its own name at
  127.0.0.1, which makes its scripts same-origin with us as far as the
  browser knows; only the Host header tells. Requests whose Host is not one
  of our own names are refused before any route runs.
- Same-origin check: every state-changing request must carry an Origin (or,
  failing that, a Referer) of our own origin. Cross-site forms carry theirs.
- CSRF token: every state-changing request must also carry a token bound to
  this browser's session cookie (HMAC under a per-process secret), which a
  foreign page can neither read nor guess.
- Strict Content-Security-Policy: scripts only from our own static files, no
  inline script or style, no foreign images, frames or form targets; user
  text is also sanitised (render.py), this is the second wall.
- Off loopback (an explicit flag), an access token: a cookie obtained by
  opening the URL printed at start-up once.

Cookie names carry the port: browsers share cookies across the ports of one
host, and several nodes' UIs often run side by side on 127.0.0.1.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from hashlib import sha256
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode

from .errors import AccessDenied, CrossSiteRequest, CsrfTokenMissing, ForeignHost, WebError
from .options import WebOptions

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


class Guard:
    """ASGI middleware: Host, access token, same-origin check, headers, session cookie.

    Args:
        app: the application it guards.
        options: where the UI listens (and its access token, if any).
        port: the port actually bound (known before the first request).
        secret: the per-process key of CSRF tokens.
    """

    def __init__(self, app: ASGIApp, options: WebOptions, port: int, secret: bytes) -> None:
        self.app = app
        self.options = options
        self.port = port
        self.secret = secret
        self.session_cookie = f"cq_session_{port}"
        self.auth_cookie = f"cq_auth_{port}"
        names = {options.host.lower(), "127.0.0.1", "localhost", "[::1]"} if options.loopback \
            else {options.host.lower()}
        self.hosts = {f"{name}:{port}" for name in names}
        if ":" in options.host:
            self.hosts.add(f"[{options.host.lower()}]:{port}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        try:
            self._check_host(headers.get("host", ""))
            self._check_token(scope, headers)
            if scope["method"] not in SAFE_METHODS:
                check_origin(headers, headers.get("host", ""))
        except _Redirect as redirect:
            await _respond(send, 303, "", [(b"location", redirect.location.encode()),
                                          (b"set-cookie", redirect.cookie.encode())])
            return
        except WebError as e:
            await _respond(send, e.status, str(e))
            return
        cookies = _cookies(headers)
        session = cookies.get(self.session_cookie, "")
        fresh = not (len(session) == 43 and session.isascii())
        if fresh:
            session = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["session"] = session
        scope["state"]["csrf"] = csrf_token(self.secret, session)
        await self.app(scope, receive, self._sender(send, scope["path"], session if fresh else None))

    def _check_host(self, host: str) -> None:
        if self.options.allow_remote and not self.options.loopback:
            return  # any name may reach a remote UI; the access token guards it
        if host.lower() not in self.hosts:
            raise ForeignHost(f"this is the cliqueclique web UI for {min(self.hosts)}; "
                              f"requests for host {host!r} are refused")

    def _check_token(self, scope: Scope, headers: dict[str, str]) -> None:
        token = self.options.token
        if token is None:
            return
        given = _cookies(headers).get(self.auth_cookie, "")
        if hmac.compare_digest(given.encode(), token.encode()):
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if hmac.compare_digest(query.get("token", [""])[0].encode(), token.encode()):
            rest = urlencode({k: v for k, v in query.items() if k != "token"}, doseq=True)
            location = scope["path"] + (f"?{rest}" if rest else "")
            cookie = f"{self.auth_cookie}={token}; Path=/; HttpOnly; SameSite=Lax"
            raise _Redirect(location, cookie)
        raise AccessDenied("this web UI needs its access token: open the URL 'cliqueclique serve' "
                           "printed (it ends with ?token=...)")

    def _sender(self, send: Send, path: str, new_session: str | None) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + HEADERS
                if not path.startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                if new_session is not None:
                    # Lax, not Strict: a link to the UI followed from elsewhere must not arrive
                    # without the cookie and replace the session (invalidating open tabs' tokens).
                    cookie = f"{self.session_cookie}={new_session}; Path=/; HttpOnly; SameSite=Lax"
                    headers.append((b"set-cookie", cookie.encode()))
                message["headers"] = headers
            await send(message)
        return wrapped


class _Redirect(Exception):
    def __init__(self, location: str, cookie: str) -> None:
        self.location, self.cookie = location, cookie


def csrf_token(secret: bytes, session: str) -> str:
    """The CSRF token of one browser session."""
    return hmac.new(secret, session.encode(), sha256).hexdigest()


def check_csrf(expected: str, given: str | None) -> None:
    """Refuse a state-changing request whose token is not this session's.

    Raises:
        CsrfTokenMissing: no token, or the wrong one.
    """
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise CsrfTokenMissing("refused: the form's security token is missing or expired; "
                               "reload the page and try again")


def check_origin(headers: dict[str, str], host: str) -> None:
    """Refuse a state-changing request that does not come from our own pages.

    Raises:
        CrossSiteRequest: a foreign (or `null`) Origin, or no Origin and no
            Referer of our own.
    """
    ours = f"http://{host}"
    origin = headers.get("origin")
    if origin is not None:
        if origin != ours:
            raise CrossSiteRequest(f"refused: a request from {origin!r} may not change anything here")
        return
    referer = headers.get("referer", "")
    if referer != ours and not referer.startswith(ours + "/"):
        raise CrossSiteRequest("refused: a state-changing request must come from this UI's own pages")


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except CookieError:  # a malformed Cookie header is the browser's problem, not ours
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


async def _respond(send: Send, status: int, text: str,
                   extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = (f"<!doctype html><meta charset=utf-8><title>{status}</title>"
            f"<p>{_escape(text)}</p>").encode() if text else b""
    headers = [(b"content-type", b"text/html; charset=utf-8"),
               (b"content-length", str(len(body)).encode()), *HEADERS, *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
