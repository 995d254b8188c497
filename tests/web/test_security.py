"""The web UI refuses what other sites (and other hosts) could make a browser send it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from playwright.sync_api import Browser, expect
from starlette.routing import Route

from cliqueclique.web.app import build_app
from tests.node.harness import cli

from .conftest import WebNode, raw_request, screenshot, start_web_node
from .test_e2e import create_forum

HOSTILE = """Looks harmless.

<script>window.__pwned = "script tag"</script>
<img src="x" onerror="window.__pwned = 'onerror'">
<svg onload="window.__pwned = 'svg'"></svg>
[click me](javascript:window.__pwned='link')
![tracker](http://tracker.example/pixel.png)
<a href="javascript:window.__pwned='raw link'">raw link</a>
"""


def test_script_in_a_post_is_inert(pair: tuple[WebNode, WebNode], browser: Browser) -> None:
    a, _ = pair
    page = a.page(browser)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    create_forum(page, a, "Totally normal post", HOSTILE)
    body = page.locator(".opening .post-body")
    expect(body).to_contain_text('<script>window.__pwned = "script tag"</script>')
    assert page.evaluate("window.__pwned") is None
    assert body.locator("script, img, svg, [onerror], [onload]").count() == 0
    assert page.locator("a[href^='javascript:']").count() == 0
    expect(body.locator("a.image-link")).to_have_text("[image: tracker]")  # a link, never fetched
    assert not [url for url in requests if "tracker.example" in url]
    # Even markup that got past the sanitiser could not run: the CSP forbids inline script.
    page.evaluate("""() => { const s = document.createElement('script');
                            s.textContent = 'window.__pwned = "inline"'; document.body.append(s); }""")
    assert page.evaluate("window.__pwned") is None
    screenshot(page, "hostile-post")
    page.context.close()


def test_post_without_csrf_token_is_refused(pair: tuple[WebNode, WebNode], browser: Browser) -> None:
    a, _ = pair
    page = a.page(browser)
    page.goto(a.url)  # same origin: only the token is missing
    statuses = page.evaluate("""async () => {
        const post = (fields) => fetch('/new', {method: 'POST', body: new URLSearchParams(fields)});
        const token = document.querySelector('meta[name="csrf-token"]').content;
        const none = await post({subject: 'no token'});
        const wrong = await post({subject: 'wrong token', csrf: token.replace(/./, 'x')});
        const right = await post({subject: 'right token', csrf: token});
        return [none.status, wrong.status, right.status, right.url];
    }""")
    assert statuses[:3] == [403, 403, 200], statuses
    assert "/t/" in statuses[3]  # the positive control did create the forum
    page.context.close()


def test_cross_origin_post_is_refused(pair: tuple[WebNode, WebNode], browser: Browser) -> None:
    a, _ = pair
    page = a.page(browser)
    page.goto(a.url)
    cookie = next(c for c in page.context.cookies() if c["name"] == f"cq_session_{a.port}")
    token = page.locator("meta[name='csrf-token']").get_attribute("content")
    host = f"127.0.0.1:{a.port}"
    form = f"subject=evil&csrf={token}"
    headers = {"Host": host, "Cookie": f"{cookie['name']}={cookie['value']}"}
    # Even with a valid cookie and token, another origin (or none at all) may not post.
    for extra in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                  {"Referer": "http://evil.example/page"}, {}):
        status, _, text = raw_request(a, "POST", "/new", {**headers, **extra}, form)
        assert status == 403, (extra, status, text)
    status, response, _ = raw_request(a, "POST", "/new", {**headers, "Origin": f"http://{host}"}, form)
    assert status == 303 and response["location"].startswith("/t/")
    page.context.close()


def post_routes() -> list[str]:
    """Every POST route of the app, its parameters filled in with a (well-formed) id."""
    app = build_app(SimpleNamespace())  # type: ignore[arg-type]  # routes only, never served
    paths = [route.path for route in app.routes if isinstance(route, Route) and "POST" in (route.methods or ())]
    some_id = "ab" * 32
    return [path.replace("{doc}", some_id).replace("{root}", some_id).replace("{peer}", some_id)
            for path in paths]


def test_every_post_route_needs_the_token_and_our_origin(pair: tuple[WebNode, WebNode],
                                                         browser: Browser) -> None:
    a, _ = pair
    routes = post_routes()
    assert {"/new", f"/d/{'ab' * 32}/react", f"/d/{'ab' * 32}/note"} <= set(routes)
    page = a.page(browser)
    page.goto(a.url)
    cookie = next(c for c in page.context.cookies() if c["name"] == f"cq_session_{a.port}")
    token = page.locator("meta[name='csrf-token']").get_attribute("content")
    host = f"127.0.0.1:{a.port}"
    headers = {"Host": host, "Cookie": f"{cookie['name']}={cookie['value']}"}
    for path in routes:
        status, _, text = raw_request(a, "POST", path, {**headers, "Origin": f"http://{host}"}, "note=x")
        assert status == 403 and "security token" in text, (path, status, text)
        status, _, text = raw_request(a, "POST", path, {**headers, "Origin": "http://evil.example"},
                                      f"note=x&csrf={token}")
        assert status == 403, (path, status, text)
        status, _, _ = raw_request(a, "POST", path, {**headers, "Host": f"evil.example:{a.port}",
                                                     "Origin": f"http://evil.example:{a.port}"},
                                   f"note=x&csrf={token}")
        assert status == 421, (path, status)
    page.context.close()


def test_foreign_host_header_is_refused(pair: tuple[WebNode, WebNode]) -> None:
    a, _ = pair
    for host in ("evil.example", f"evil.example:{a.port}", f"127.0.0.1.nip.io:{a.port}", "127.0.0.1"):
        status, _, text = raw_request(a, "GET", "/", {"Host": host})
        assert status == 421, (host, status)
        assert "Your forums" not in text
    for host in (f"127.0.0.1:{a.port}", f"localhost:{a.port}"):
        status, headers, text = raw_request(a, "GET", "/", {"Host": host})
        assert status == 200 and "Your forums" in text
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]


def test_remote_address_needs_the_flag_and_a_token(tmp_path: Path) -> None:
    home = tmp_path / "remote"
    cli(home, "init", "--name", "remote")
    refused = cli(home, "serve", "--no-i2p", "--web", "0.0.0.0:0", check=False)
    assert refused.returncode != 0 and "--web-allow-remote" in refused.stderr
    node = start_web_node(tmp_path / "tok", "tok", "--web-token", "open-sesame")
    try:
        assert node.url.endswith("/?token=open-sesame")
        host = {"Host": f"127.0.0.1:{node.port}"}
        assert raw_request(node, "GET", "/", host)[0] == 401
        assert raw_request(node, "GET", "/?token=wrong", host)[0] == 401
        status, headers, _ = raw_request(node, "GET", "/sync?token=open-sesame", host)
        assert status == 303 and headers["location"] == "/sync"
        cookie = headers["set-cookie"].split(";")[0]
        assert raw_request(node, "GET", "/sync", {**host, "Cookie": cookie})[0] == 200
    finally:
        node.serve.stop()
