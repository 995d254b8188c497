"""Turning user text and ids into safe HTML, and the Jinja environment.

Post bodies are Markdown (CommonMark via markdown-it-py) with raw HTML
disabled, then sanitised by nh3 (ammonia) against a short allow-list: even if
the renderer let something through, no script, event handler, style or
foreign resource survives. Images are never fetched: an image becomes a plain
link to it, so reading a post does not tell its author (or anyone) that you
read it. Links keep only http, https and mailto and get
``rel="noopener noreferrer nofollow"``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import nh3
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup, escape

TEMPLATES = Path(__file__).parent / "templates"
ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "span",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title", "class"}, "ol": {"start"}, "span": {"class"}}
URL_SCHEMES = {"http", "https", "mailto"}


def _image_as_link(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """Render ![alt](src) as a link: never load a foreign image while reading."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env) or src
    return f'<a class="image-link" href="{escape(src)}">[image: {escape(alt)}]</a>'


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("image", _image_as_link)
    return md


_MD = _markdown()


@lru_cache(maxsize=8192)
def markdown(text: str) -> Markup:
    """Markdown to sanitised HTML (cached by text: rendering is the slow part of a big thread)."""
    html = _MD.render(text)
    clean = nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                      url_schemes=URL_SCHEMES, link_rel="noopener noreferrer nofollow")
    return Markup(clean)


def short(node_id: str | None, length: int = 8) -> str:
    """The first characters of an id, enough to tell people apart on a page."""
    return (node_id or "")[:length]


def color(node_id: str | None) -> str:
    """A stable, readable colour for an id (avatars, network nodes)."""
    hue = int((node_id or "0")[:6] or "0", 16) % 360
    return f"hsl({hue}, 55%, 48%)"


def _utc(ms: int) -> datetime | None:
    """The time `ms` names, or None if it is outside the calendar datetime can
    show (years 1-9999): a peer signs any integer, and older logs may hold one
    the log no longer accepts."""
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def when(ms: int | None, now: float | None = None) -> str:
    """A timestamp as people say it: 'just now', '5 min ago', '3 Mar 2025'.
    A time more than a day ahead (a wrong clock) shows as its date."""
    if ms is None:
        return ""
    stamp = _utc(ms)
    if stamp is None:
        return "(time out of range)"
    seconds = (now if now is not None else time.time()) - ms / 1000
    if -86400 < seconds < 45:
        return "just now"
    if 0 < seconds < 3600:
        return f"{max(1, round(seconds / 60))} min ago"
    if 0 < seconds < 86400:
        return f"{round(seconds / 3600)} h ago"
    return f"{stamp.day} {stamp:%b %Y}"


def iso(ms: int | None) -> str:
    """A timestamp for `<time datetime=...>` and tooltips."""
    if ms is None:
        return ""
    stamp = _utc(ms)
    return f"time out of range: {ms}" if stamp is None else stamp.strftime("%Y-%m-%d %H:%M:%S UTC")


def environment() -> Environment:
    """The templates, autoescaped, with the helpers above as filters."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.filters.update(short=short, color=color, when=when, iso=iso, markdown=markdown)
    return env
