"""Terminal rendering: times a peer chose (any value, never a crash) and
Markdown shown as readable wrapped text."""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime

_BLOCK = re.compile(r"^(\s*)([-*+] |\d+[.)] |> )")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]+)[^)]*\)")


def _inline(text: str) -> str:
    """Inline Markdown as plain text: strong markers dropped, links as `text <url>`."""
    text = _STRONG.sub(r"\2", text)
    return _LINK.sub(lambda m: f"{m.group(1)} <{m.group(2)}>" if m.group(1) else f"<{m.group(2)}>", text)


def when(ms: int | None) -> str:
    """A timestamp (ms) as UTC date and time; one out of the calendar's range
    (a peer can sign any value) is shown as such instead of failing."""
    if ms is None:
        return "?"
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    except (ValueError, OverflowError, OSError):
        return f"(time out of range: {ms})"


def plain_markdown(text: str, width: int) -> list[str]:
    """Markdown as terminal lines: paragraphs re-wrapped to `width`, list items
    and quotes wrapped with a hanging indent, headings underlined, code blocks
    verbatim, strong markers dropped and links shown with their address."""
    lines: list[str] = []
    paragraph: list[str] = []
    prefix = ""
    in_code = False

    def flush() -> None:
        nonlocal paragraph, prefix
        if paragraph:
            hanging = " " * len(prefix) if not prefix.lstrip().startswith(">") else prefix
            lines.extend(textwrap.wrap(_inline(" ".join(paragraph)), width, initial_indent=prefix,
                                       subsequent_indent=hanging, break_on_hyphens=False) or [prefix])
        paragraph, prefix = [], ""

    for raw in text.splitlines():
        if raw.lstrip().startswith(("```", "~~~")):
            flush()
            in_code = not in_code
            continue
        if in_code:
            lines.append("    " + raw)
            continue
        if not raw.strip():
            flush()
            if lines and lines[-1]:
                lines.append("")
            continue
        heading = _HEADING.match(raw)
        if heading:
            flush()
            title = _inline(heading.group(1))
            lines.extend([title, "─" * min(width, len(title))])
            continue
        block = _BLOCK.match(raw)
        if block:
            flush()
            prefix = block.group(0)
            paragraph = [raw[block.end():].strip()]
        else:
            paragraph.append(raw.strip())
    flush()
    while lines and not lines[-1]:
        lines.pop()
    return lines
