"""Moderation and personal blocks in the web UI.

Over HTTP against a node in this process (tests/web/test_http.py's client):
the refusals (a non-moderator, a non-owner appointing, a bad policy, an
unknown node, a missing CSRF token) each name why, as a page or as JSON, and
write nothing. In a real headless Chromium against real `serve` processes:
the owner appoints a moderator in the forum's panel, the moderator hides a
post and bans its author (the post shows hidden, with the reason, on the
owner's page too; the history page and `mod log` show it), a non-moderator
sees no moderation buttons and a forged POST to the hide endpoint is refused
and changes nothing, and a block from a post hides the author's posts until
the /blocked page unblocks them.
"""

from __future__ import annotations

import json
from html import unescape
from pathlib import Path

import trio
from playwright.sync_api import Browser, Page, expect

from cliqueclique.eventlog import Action, ModAction
from cliqueclique.home import Home, LocalNode
from cliqueclique.views import BatchSigner, moderation
from cliqueclique.views.local import blocked
from tests.conftest import make_key
from tests.node.harness import Serve, cli

from .conftest import WebNode, screenshot
from .test_e2e import create_forum, join, open_live_thread
from .test_http import Client, Response, serving

SPAM_REASON = "spam: <b>cheap</b> watches & <script>window.__pwned=1</script>"


# --- in process, over HTTP -----------------------------------------------------------------


def events_of(local: LocalNode) -> int:
    store = local.open_store()
    try:
        return int(store.db.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        store.close()


def mod_state(local: LocalNode, forum: str) -> moderation.ModerationState:
    store = local.open_store()
    try:
        state = moderation.state(store, forum, node=local.id)
        assert state is not None
        return state
    finally:
        store.close()


def forum_of(tmp_path: Path, *, owned: bool, appointed: bool = False) -> tuple[Home, LocalNode, str, str]:
    """A home whose node holds a forum and a reply by someone else (key 7):
    owned by the node itself, or by someone else (key 8) who may have appointed
    the node a moderator. The forum, the reply."""
    home = Home(tmp_path / "home")
    local = home.create_node("reader")
    store = local.open_store()
    me, other = BatchSigner(local.key(), store), BatchSigner(make_key(7), store)
    owner = me if owned else BatchSigner(make_key(8), store)
    forum = owner.document("The forum", "Welcome.")
    reply = other.document("Re: The forum", "Buy cheap watches!")
    events = [forum, reply, other.link(forum.id, reply.id), me.subscription(forum.id, Action.SUBSCRIBE)]
    if appointed:
        events.append(owner.moderate(forum.id, ModAction.APPOINT, local.id))
    store.append_many(events)
    store.close()
    return home, local, forum.id, reply.id


def reply_section(html: str, reply: str) -> str:
    return html[html.index(f'id="d-{reply}"'):]


async def test_a_reader_who_is_not_a_moderator_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    home, local, forum, reply = forum_of(tmp_path, owned=False)
    author = make_key(7).verify_key.encode().hex()
    async with serving(home) as client:
        page = await client.get(f"/t/{forum}")
        assert page.status == 200
        assert 'class="mod-edit"' not in page.text and 'id="mod-panel"' not in page.text
        assert "Block this author" in page.text  # every reader may block, privately
        before = events_of(local)
        refused = await client.post(f"/d/{reply}/hide", {"reason": "spam", "root": forum})
        assert refused.status == 403
        assert "is neither the owner nor a moderator of forum" in unescape(refused.text)
        assert 'class="error-message"' in refused.text  # the app's error page, not a bare 500
        scripted = await client.post(f"/f/{forum}/mod", {"action": "ban", "target": author}, script=True)
        assert scripted.status == 403 and "neither the owner nor a moderator" in json.loads(scripted.text)["error"]
        appoint = await client.post(f"/f/{forum}/mod", {"action": "appoint", "target": local.id}, script=True)
        assert appoint.status == 403 and "only the owner" in json.loads(appoint.text)["error"]
        assert events_of(local) == before
        assert reply not in mod_state(local, forum).hidden


async def test_a_moderator_hides_and_bans_but_may_not_appoint(tmp_path: Path) -> None:
    home, local, forum, reply = forum_of(tmp_path, owned=False, appointed=True)
    author = make_key(7).verify_key.encode().hex()
    async with serving(home) as client:
        page = await client.get(f"/t/{forum}")
        assert 'class="mod-edit"' in reply_section(page.text, reply)
        assert 'id="mod-moderators"' not in page.text  # the panel, less what only the owner may do
        assert 'id="mod-policy"' in page.text
        hidden = await client.post(f"/d/{reply}/hide", {"reason": SPAM_REASON, "root": forum})
        assert hidden.status == 303 and hidden.headers["location"] == f"/t/{forum}#d-{reply}"
        page = await client.get(f"/t/{forum}")
        section = reply_section(page.text, reply)
        assert "<script>window.__pwned" not in page.text  # the reason is text, escaped
        assert "spam: &lt;b&gt;cheap&lt;/b&gt; watches &amp; &lt;script&gt;" in section
        assert 'class="badge hidden"' in section and "Unhide post" in section
        banned = await client.post(f"/f/{forum}/mod", {"action": "ban", "target": author[:10],
                                                       "reason": "selling"}, script=True)
        assert banned.status == 200 and json.loads(banned.text)["ok"]
        assert mod_state(local, forum).ban_of(author) is not None
        appoint = await client.post(f"/f/{forum}/mod", {"action": "appoint", "target": author})
        assert appoint.status == 403 and "only the owner" in appoint.text
        log = await client.get(f"/f/{forum}/moderation")
        assert log.status == 200
        assert [a for a in ("appoint", "hide", "ban") if f'data-action="{a}"' in log.text] == \
            ["appoint", "hide", "ban"]
        assert "&lt;script&gt;" in log.text and "<script>window" not in log.text
        unhidden = await client.post(f"/d/{reply}/unhide", {"root": forum}, script=True)
        assert unhidden.status == 200 and reply not in mod_state(local, forum).hidden
        assert (await client.post(f"/d/{forum}/hide", {"reason": "closed"})).status == 303
        page = await client.get(f"/t/{forum}")
        opening = page.text[page.text.index(f'id="o-{forum}"'):page.text.index(f'id="d-{reply}"')]
        assert '<span class="reason">closed</span>' in opening and "Show it anyway" in opening


async def test_the_owner_panel_refuses_bad_input_with_the_reason(tmp_path: Path) -> None:
    home, local, forum, _ = forum_of(tmp_path, owned=True)
    async with serving(home) as client:
        page = await client.get(f"/t/{forum}")
        assert 'id="mod-moderators"' in page.text and 'id="mod-members"' in page.text
        before = events_of(local)
        cases = [
            ({"action": "policy", "target": "pow:99"}, 400, "unknown policy 'pow:99'"),
            ({"action": "appoint", "target": local.id}, 400, "more than a moderator"),
            ({"action": "appoint", "target": "abcd"}, 400, "no node abcd"),
            ({"action": "appoint", "target": "zz"}, 400, "is not a node id"),
            ({"action": "appoint", "target": " "}, 400, "please give a node id"),
            ({"action": "explode", "target": local.id}, 400, "unknown moderation action"),
            ({"action": "ban", "target": local.id[:8], "reason": "x" * 1001}, 400, "too long"),
        ]
        for fields, status, message in cases:
            answer = await client.post(f"/f/{forum}/mod", fields, script=True)
            assert (answer.status, message in json.loads(answer.text)["error"]) == (status, True), fields
        missing = await client.get(f"/f/{'0' * 64}/moderation")
        assert missing.status == 404
        assert events_of(local) == before
        moderator = make_key(9).verify_key.encode().hex()
        for fields in ({"action": "appoint", "target": moderator}, {"action": "policy", "target": "members"},
                       {"action": "approve", "target": moderator}):
            assert (await client.post(f"/f/{forum}/mod", fields)).status == 303
        state = mod_state(local, forum)
        assert (state.moderators, state.policy, state.members) == ({moderator}, "members", {moderator})


async def test_blocks_and_the_csrf_token_over_http(tmp_path: Path) -> None:
    home, local, forum, reply = forum_of(tmp_path, owned=False)
    author = make_key(7).verify_key.encode().hex()
    async with serving(home) as client:
        await client.get(f"/t/{forum}")
        for path, fields in ((f"/d/{reply}/hide", {}), ("/block", {"author": author}),
                             (f"/f/{forum}/mod", {"action": "policy", "target": "open"})):
            body = "&".join(f"{k}={v}" for k, v in fields.items())
            bare = await _post_without_token(client, path, body)
            assert bare.status == 403 and "security token is missing" in bare.text, path
        assert author not in _blocked(local)
        me = await client.post("/block", {"author": local.id}, script=True)
        assert me.status == 400 and json.loads(me.text)["error"] == "you cannot block yourself"
        done = await client.post("/block", {"author": author[:12], "next": f"/t/{forum}#d-{reply}"})
        assert done.status == 303 and done.headers["location"] == f"/t/{forum}#d-{reply}"
        assert author in _blocked(local)
        again = await client.post("/block", {"author": author}, script=True)
        assert again.status == 400 and "already blocked" in json.loads(again.text)["error"]
        section = reply_section((await client.get(f"/t/{forum}")).text, reply)
        assert "Hidden: you blocked this author." in section and "Unblock this author" in section
        page = await client.get("/blocked")
        assert f'data-id="{author}"' in page.text and "1 post, hidden" in page.text
        assert (await client.post("/unblock", {"author": author})).status == 303
        assert author not in _blocked(local)
        assert "Nobody is blocked" in (await client.get("/blocked")).text


async def _post_without_token(client: Client, path: str, body: str) -> Response:
    """A same-origin form post with the session cookie but no CSRF token (field or header)."""
    headers = {"Origin": f"http://127.0.0.1:{client.port}"}
    return await trio.to_thread.run_sync(client._request, "POST", path, body, headers)


def _blocked(local: LocalNode) -> set[str]:
    store = local.open_store()
    try:
        return blocked(store, local.id)
    finally:
        store.close()


# --- a real browser against real `serve` processes -------------------------------------------


def mod_log(node: WebNode, forum: str) -> list[dict[str, object]]:
    lines = cli(node.serve.home, "mod", "log", forum, "--json").stdout.splitlines()
    return [json.loads(line) for line in lines]


def forged_posts_are_refused(page: Page, node: WebNode, forum: str, post: str) -> None:
    """A reader who is no moderator sees no moderation buttons. A hand-made POST to the
    hide endpoint, with a valid token, is refused with the reason shown in the page;
    one without the token is refused for that. Nothing is written either way."""
    expect(page.locator(f"#d-{post} > .own .block-form")).to_be_visible()
    expect(page.locator(".mod-edit")).to_have_count(0)
    expect(page.locator("#mod-panel")).to_have_count(0)
    scripted = page.evaluate("""async (post) => {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const body = new URLSearchParams({csrf, reason: "forged"});
        const answer = await fetch(`/d/${post}/hide`, {method: "POST", body,
                                   headers: {"X-Requested-With": "fetch"}});
        const bare = await fetch(`/d/${post}/hide`, {method: "POST", body: new URLSearchParams({reason: "x"})});
        return {status: answer.status, error: (await answer.json()).error,
                bare: bare.status, bareText: await bare.text()};
    }""", post)
    assert scripted["status"] == 403 and "neither the owner nor a moderator" in scripted["error"]
    assert scripted["bare"] == 403 and "security token is missing" in scripted["bareText"]
    page.evaluate("""(post) => {  // a plain form, as a page of this origin could build it
        const form = document.createElement("form");
        form.method = "post";
        form.action = `/d/${post}/hide`;
        const token = document.createElement("input");
        token.type = "hidden"; token.name = "csrf";
        token.value = document.querySelector('meta[name="csrf-token"]').content;
        form.appendChild(token);
        document.body.appendChild(form);
        form.submit();
    }""", post)
    expect(page.locator(".error-message")).to_contain_text("is neither the owner nor a moderator")
    screenshot(page, "moderation-refused")
    assert mod_log(node, forum) == []


def appoint_in_the_panel(page: Page, owner: WebNode, forum: str, moderator: str) -> None:
    """The owner appoints by a unique prefix of the moderator's id (an author it holds)."""
    page.goto(f"{owner.url}t/{forum}")
    panel = page.locator("#mod-panel")
    panel.locator("#mod-moderators input[name=target]").fill(moderator[:10])
    panel.locator("button:has-text('Appoint')").click()
    expect(page.locator(f"#mod-moderators li[data-id='{moderator}']")).to_be_visible()
    screenshot(page, "moderation-panel")


def hide_and_ban(page: Page, forum: str, post: str) -> None:
    """The moderator hides the post with a reason (markup in it stays text), then bans its author."""
    own = page.locator(f"#d-{post} > .own")
    own.locator(".mod-edit > summary").click()
    own.locator(".mod-form input[name=reason]").fill(SPAM_REASON)
    own.locator("button.mod-hide").click()
    page.wait_for_url(f"**/t/{forum}#d-{post}")
    own = page.locator(f"#d-{post} > .own")
    expect(own.locator(".hidden-note .author.you")).to_be_visible()  # "Hidden by you: ..."
    expect(own.locator(".hidden-note .reason")).to_have_text(SPAM_REASON)
    expect(own.locator(".hidden-note .reason b, .hidden-note script")).to_have_count(0)
    expect(own.locator(".post-body")).not_to_be_visible()  # behind "Show it anyway"
    own.locator(".mod-edit > summary").click()
    own.locator(".mod-form input[name=reason]").fill("selling watches")
    own.locator("button.mod-ban").click()
    page.wait_for_url(f"**/t/{forum}#d-{post}")
    expect(page.locator(f"#d-{post} > .own button.mod-ban")).to_have_text("Unban author")
    expect(page.locator(f"#d-{post} > .own button.mod-hide")).to_have_text("Unhide post")
    assert page.evaluate("window.__pwned") is None
    screenshot(page, "moderation-hidden")


def block_and_unblock(page: Page, node: WebNode, forum: str, post: str, author: str) -> None:
    """A block from a post hides every post of that author here; /blocked lists it and unblocks."""
    page.goto(f"{node.url}t/{forum}")
    expect(page.locator(f"#d-{post} > .own .post-body")).to_contain_text("cheap watches")
    page.locator(f"#d-{post} > .own .block-form button").click()
    page.wait_for_url(f"**/t/{forum}#d-{post}")
    expect(page.locator(f"#d-{post} > .own .hidden-note")).to_have_text("Hidden: you blocked this author.")
    expect(page.locator(f"#d-{post} > summary .badge.hidden")).to_be_visible()
    page.click("nav.mainnav a:has-text('Blocked')")
    row = page.locator(f"#blocked tr[data-id='{author}']")
    expect(row).to_contain_text("1 post, hidden")
    screenshot(page, "blocked")
    row.locator("button:has-text('Unblock')").click()
    expect(page.locator(".empty")).to_contain_text("Nobody is blocked")
    page.goto(f"{node.url}t/{forum}")
    expect(page.locator(f"#d-{post} > .own .post-body")).to_be_visible()
    expect(page.locator(f"#d-{post} > .own .hidden-note")).to_have_count(0)


def history_shows_it(page: Page, node: WebNode, forum: str, moderator: str) -> None:
    page.goto(f"{node.url}t/{forum}")
    page.click("a.chip:has-text('Moderation history')")
    rows = page.locator("#mod-log tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0).locator(".mod-action")).to_have_text("appoint")
    hide = page.locator("#mod-log tr[data-action='hide']")
    expect(hide.locator(".reason")).to_have_text(SPAM_REASON)
    expect(hide).to_contain_text(moderator[:8])
    expect(hide.locator(".pill")).to_have_text("yes")
    expect(page.locator("#mod-log tr[data-action='ban'] .reason")).to_have_text("selling watches")
    screenshot(page, "moderation-history")


def test_moderators_hide_and_ban_readers_block_in_the_browser(
        pair: tuple[WebNode, WebNode], browser: Browser, tmp_path: Path) -> None:
    a, b = pair  # a owns the forum and appoints b; carl (no web UI) posts the spam
    page_a, page_b = a.page(browser), b.page(browser)
    cli(tmp_path, "init", "--name", "carl")
    carl = Serve(tmp_path, "--no-web")
    try:
        subject = "Watch collectors"
        forum = create_forum(page_a, a, subject, "Talk about watches, no selling.")
        invite = page_a.locator("#invite-text").input_value()
        join(page_b, b, invite, subject)
        cli(tmp_path, "join", invite)
        spam = cli(tmp_path, "post", "--subject", "Deal", "--body", "Buy cheap watches here!",
                   "--parent", forum).stdout.split()[-1]
        for node in (a, b):
            node.serve.wait_for({spam})

        block_and_unblock(page_a, a, forum, spam, carl.node_id)

        open_live_thread(page_b, b, forum)
        forged_posts_are_refused(page_b, b, forum, spam)
        open_live_thread(page_b, b, forum)  # b answers, so a holds an author with b's id
        page_b.fill(f"#compose-{forum} textarea[name=body]", "Happy to help keep it clean.")
        page_b.click(f"#compose-{forum} button[type=submit]")
        page_b.wait_for_url(f"**/t/{forum}#d-*")
        a.serve.wait_for({page_b.url.split("#d-")[1]})

        appoint_in_the_panel(page_a, a, forum, b.serve.node_id)
        (appointment,) = mod_log(a, forum)
        assert appointment["action"] == "appoint" and appointment["target"] == b.serve.node_id
        b.serve.wait_for({str(appointment["id"])})
        open_live_thread(page_a, a, forum)  # a watches the moderator's actions arrive live
        page_b.goto(f"{b.url}t/{forum}")
        hide_and_ban(page_b, forum, spam)

        note = page_a.locator(f"#d-{spam} > .own .hidden-note")
        expect(note).to_contain_text(SPAM_REASON)
        expect(note).to_contain_text(b.serve.node_id[:8])
        actions = [e["action"] for e in mod_log(a, forum)]
        assert actions == ["appoint", "hide", "ban"]
        assert "hide" in cli(a.serve.home, "mod", "log", forum).stdout
        history_shows_it(page_a, a, forum, b.serve.node_id)
    finally:
        page_a.context.close()
        page_b.context.close()
        carl.stop()
