"""Two nodes in two processes, two browser pages: the forum works live, end to end."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.node.harness import Serve, cli

from .conftest import WebNode, screenshot


def create_forum(page: Page, node: WebNode, subject: str, body: str) -> str:
    """Start a forum through the UI; its id."""
    page.goto(node.url + "new")
    page.fill("input[name=subject]", subject)
    page.fill("textarea[name=body]", body)
    page.click("button:has-text('Create forum')")
    page.wait_for_url("**/t/*")
    return page.url.rsplit("/", 1)[1]


def join(page: Page, node: WebNode, invite: str, subject: str) -> None:
    """Join by invite in the home page and wait until the forum shows up there (live)."""
    page.goto(node.url)
    expect(page.locator("#livedot")).to_be_visible()
    page.fill("textarea[name=invite]", invite)
    page.click("button:has-text('Join')")
    expect(page.locator(".forum-list .forum-title", has_text=subject)).to_be_visible()


def open_live_thread(page: Page, node: WebNode, root: str) -> None:
    page.goto(f"{node.url}t/{root}")
    expect(page.locator("#livedot")).to_be_visible()  # the event stream is connected
    page.evaluate("window.__notReloaded = true")


def still_same_page(page: Page) -> bool:
    return bool(page.evaluate("window.__notReloaded === true"))


def reply_appears_live(page_a: Page, page_b: Page, root: str) -> str:
    """A reply typed in page A appears in page B without a reload; the reply's id."""
    page_a.fill(f"#compose-{root} textarea[name=body]", "Count me in, I will bring a map.")
    page_a.click(f"#compose-{root} button[type=submit]")
    page_a.wait_for_url(f"**/t/{root}#d-*")
    reply = page_a.url.split("#d-")[1]
    expect(page_b.locator(f"#d-{reply} > .own .post-body")).to_contain_text("bring a map")
    expect(page_b.locator(f"#d-{reply} .badge.new")).to_be_visible()
    assert still_same_page(page_b)
    return reply


def a_reader_reacts_and_keeps_a_note(page_a: Page, page_b: Page, a: WebNode, b: WebNode, root: str,
                                     reply: str) -> None:
    """B did not write A's reply, yet reacts to it (and takes it back); A sees both live.
    B's note on the forum is B's alone: shown to B after a reload, never to A."""
    open_live_thread(page_a, a, root)
    mine = page_b.locator(f"#d-{reply} > .own button.react[value='🎉']")
    theirs = page_a.locator(f"#d-{reply} > .own button.react[value='🎉']")
    mine.click()
    expect(mine).to_have_class(re.compile(r"\bmine\b"))
    expect(mine.locator(".n")).to_have_text("1")
    expect(theirs.locator(".n")).to_have_text("1")  # over the network, pushed to A's open page
    expect(theirs).not_to_have_class(re.compile(r"\bmine\b"))
    screenshot(page_b, "thread-b-reacted")
    mine.click()
    expect(mine).not_to_have_class(re.compile(r"\bmine\b"))
    expect(mine.locator(".n")).to_have_count(0)
    expect(theirs.locator(".n")).to_have_count(0)
    assert still_same_page(page_a) and still_same_page(page_b)
    opening = page_b.locator(f"#o-{root}")
    opening.locator(".note-edit > summary").click()
    opening.locator("textarea[name=note]").fill("Ask Anna about the map")
    opening.locator("button:has-text('Save note')").click()
    page_b.wait_for_url(f"**/t/{root}#d-{root}")
    page_b.reload()
    expect(page_b.locator(f"#o-{root} .note-text")).to_have_text("Your note: Ask Anna about the map")
    expect(page_b.locator(f"#o-{root} .note-edit > summary")).to_have_text("Edit note")
    page_b.locator(f"#d-{reply} > .own .note-edit > summary").click()  # an open, empty note form
    screenshot(page_b, "thread-b-note")
    page_a.reload()
    expect(page_a.locator(f"#o-{root} .actions")).to_be_visible()
    expect(page_a.locator(".note-text")).to_have_count(0)
    open_live_thread(page_b, b, root)


def nested_reply_appears_live(page_a: Page, page_b: Page, a: WebNode, root: str, reply: str) -> None:
    """B answers the reply with the box under it; A sees the answer nested under the reply."""
    open_live_thread(page_a, a, root)
    page_b.click(f"#d-{reply} > .own .reply-btn")
    page_b.fill(f"#compose-{reply} textarea[name=body]", "Great, I'll bring snacks.")
    page_b.click(f"#compose-{reply} button[type=submit]")
    expect(page_a.locator(f"#d-{reply} > .replies > details.post .post-body")).to_contain_text("bring snacks")
    assert still_same_page(page_a)
    screenshot(page_a, "thread-a-nested")


def edit_appears_live(page_a: Page, page_b: Page, b: WebNode, root: str, reply: str) -> None:
    open_live_thread(page_b, b, root)
    page_a.click(f"#d-{reply} > .own a:has-text('Edit')")
    page_a.fill("textarea[name=body]", "Count me in, I will bring a map **and a compass**.")
    page_a.click("button:has-text('Save')")
    page_a.wait_for_url(f"**/t/{root}#d-{reply}")
    expect(page_b.locator(f"#d-{reply} > .own .post-body strong")).to_have_text("and a compass")
    expect(page_b.locator(f"#d-{reply} > summary")).to_contain_text("edited")
    assert still_same_page(page_b)


def deletion_appears_live(page_a: Page, page_b: Page, reply: str) -> None:
    """The post is hidden on both pages; the nested answer stays in place under it."""
    page_a.once("dialog", lambda dialog: dialog.accept())
    page_a.click(f"#d-{reply} > .own button:has-text('Delete')")
    expect(page_a.locator(f"#d-{reply} > .own .tomb")).to_contain_text("deleted")
    expect(page_b.locator(f"#d-{reply} > .own .tomb")).to_contain_text("deleted by its author")
    expect(page_b.locator(f"#d-{reply} > .own .post-body")).to_have_count(0)
    expect(page_b.locator(f"#d-{reply} > .replies .post-body")).to_contain_text("bring snacks")
    assert still_same_page(page_b)
    screenshot(page_b, "thread-b-after-delete")


def network_has_both_nodes(page: Page, a: WebNode, b: WebNode, root: str) -> None:
    page.goto(f"{a.url}d/{root}/network")
    expect(page.locator("svg.network g.node")).to_have_count(2)
    expect(page.locator("svg.network g.node.me")).to_have_count(1)
    expect(page.locator("svg.network g.node.center")).to_have_count(1)
    expect(page.locator(f"svg.network g.node[data-id='{b.serve.node_id}']")).to_have_count(1)
    expect(page.locator("svg.network line.edge.tree")).to_have_count(1)
    screenshot(page, "network")


def sync_page_shows_the_forum(page: Page, node: WebNode, subject: str, peer: str) -> None:
    page.goto(node.url + "sync")
    card = page.locator(".sync-card", has_text=subject)
    expect(card.locator("progress").first).to_be_visible()
    expect(card.locator(".pill")).to_have_text("in sync")  # the page refreshes itself meanwhile
    expect(card.locator(".peer-progress")).to_contain_text(peer[:8])


def screenshots_of_the_main_pages(page: Page, node: WebNode, root: str) -> None:
    for path, name in ((f"t/{root}", "thread"), ("", "home"), ("peers", "peers"), ("sync", "sync"),
                       ("new", "new-forum"), ("dirs", "directories"), ("nodes", "nodes")):
        page.goto(node.url + path)
        screenshot(page, name)


def test_replies_edits_and_deletions_appear_live_on_the_other_node(
        pair: tuple[WebNode, WebNode], browser: Browser) -> None:
    a, b = pair
    page_a, page_b = a.page(browser), b.page(browser)
    subject = "Weekend hike"
    root = create_forum(page_a, a, subject, "Who is in for **Saturday**? Meet at the station.")
    invite = page_a.locator("#invite-text").input_value()
    assert invite.startswith("cq:" + root)
    join(page_b, b, invite, subject)
    screenshot(page_b, "home-after-join")
    page_b.locator(".forum-list .forum-title", has_text=subject).click()
    page_b.wait_for_url(f"**/t/{root}")
    expect(page_b.locator(".thread-title")).to_have_text(subject)
    open_live_thread(page_b, b, root)
    reply = reply_appears_live(page_a, page_b, root)
    a_reader_reacts_and_keeps_a_note(page_a, page_b, a, b, root, reply)
    nested_reply_appears_live(page_a, page_b, a, root, reply)
    edit_appears_live(page_a, page_b, b, root, reply)
    deletion_appears_live(page_a, page_b, reply)
    network_has_both_nodes(page_a, a, b, root)
    page_b.click("button:has-text('Mark all read')")
    expect(page_b.locator(".unread-count")).to_have_count(0)
    expect(page_b.locator(".badge.new")).to_have_count(0)
    sync_page_shows_the_forum(page_a, a, subject, b.serve.node_id)
    screenshots_of_the_main_pages(page_a, a, root)
    page_a.context.close()
    page_b.context.close()


def test_peers_page_adds_shows_and_bans_a_peer(pair: tuple[WebNode, WebNode], browser: Browser,
                                               tmp_path: Path) -> None:
    a, _ = pair
    cli(tmp_path, "init", "--name", "carl")
    carl = Serve(tmp_path, "--no-web")
    page = a.page(browser)
    try:
        page.goto(a.url + "peers")
        page.fill("input[name=address]", carl.address)
        page.fill("input[name=peer]", carl.node_id)
        page.click("button:has-text('Connect')")
        row = page.locator(f"tr[data-peer='{carl.node_id}']")
        expect(row.locator(".pill")).to_have_text("connected")  # the table refreshes itself
        page.once("dialog", lambda dialog: dialog.accept())
        row.locator("button:has-text('Ban')").click()
        expect(row.locator(".pill")).to_have_text("banned")
        expect(row).to_contain_text("banned by the user")
        screenshot(page, "peers-banned")
        row.locator("button:has-text('Unban')").click()
        expect(row.locator(".pill")).not_to_have_text("banned")
    finally:
        page.context.close()
        carl.stop()


def test_directory_search_as_you_type(pair: tuple[WebNode, WebNode], browser: Browser) -> None:
    a, _ = pair
    page = a.page(browser)
    page.goto(a.url + "dirs")
    page.fill("input[name=name]", "Recipes")
    page.click("button:has-text('Create')")
    page.wait_for_url("**/dirs/*")
    for subject in ("Pancakes", "Pasta carbonara", "Pesto", "Soup of the day"):
        page.fill("input[name=subject]", subject)
        page.fill("textarea[name=body]", f"How to make {subject.lower()}.")
        page.click("button:has-text('Add')")
        expect(page.locator("#dir-results")).to_contain_text(subject)
    page.fill("#dir-prefix", "")
    page.evaluate("window.__notReloaded = true")
    page.locator("#dir-prefix").press_sequentially("pa")
    expect(page.locator("#dir-results li")).to_have_count(2)
    expect(page.locator("#dir-results")).to_contain_text("Pasta carbonara")
    page.locator("#dir-prefix").press_sequentially("s")
    expect(page.locator("#dir-results li")).to_have_count(1)
    page.locator("#dir-prefix").press_sequentially("x")
    expect(page.locator("#dir-results")).to_contain_text("Nothing starts with")
    assert still_same_page(page)
    page.fill("#dir-prefix", "")
    page.locator("#dir-prefix").press_sequentially("p")
    expect(page.locator("#dir-results li")).to_have_count(3)
    screenshot(page, "directory")
    page.context.close()
