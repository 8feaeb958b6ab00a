"""Article Markdown to safe HTML and to plain text (pure).

Editors are trusted staff, but a stolen session or a pasted snippet must not put script into a customer's page:
the rendered HTML is sanitised with nh3 to an allow-list of tags and attributes, and links get `rel=noopener`.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

__all__ = ["plain_text", "render_markdown"]

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
_TAGS = {
    "a", "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre", "blockquote",
    "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "img", "kbd",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}, "td": {"align"}}
_SCHEMES = {"http", "https", "mailto", "tel"}
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"[ \t\r\f\v]+")


def render_markdown(source: str) -> str:
    """Render Markdown to sanitised HTML."""
    html = _MARKDOWN.render(source)
    return nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes=_SCHEMES, link_rel="noopener noreferrer")


def plain_text(source: str) -> str:
    """Return the readable text of Markdown (for the index and snippets), without markup."""
    html = nh3.clean(_MARKDOWN.render(source), tags={"p", "li", "br", "h1", "h2", "h3", "td", "th", "pre"})
    text = _TAG.sub(" ", html)
    text = text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
    text = text.replace("&#39;", "'")
    lines = (_SPACE.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)
