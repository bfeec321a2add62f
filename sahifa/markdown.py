"""Markdown to HTML with markdown-it-py: raw HTML off, safe links, anchored headings."""

from __future__ import annotations

from markdown_it import MarkdownIt

from .arabic import text_direction
from .model import Heading
from .urls import slugify

_SAFE_SCHEMES = ("http:", "https:", "mailto:", "tel:")


def _validate_link(url: str) -> bool:
    """Allow web, mail and relative links; refuse javascript:, data:, vbscript: and the like."""
    lowered = "".join(url.split()).lower()
    if ":" not in lowered.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]:
        return True  # relative
    return lowered.startswith(_SAFE_SCHEMES)


def anchor_link(anchor: str) -> str:
    """The visible '#' link placed at the end of each section heading."""
    return f'<a class="anchor" href="#{anchor}" aria-label="رابط هذا القسم">#</a>'


def _heading_close(self, tokens, idx, options, env) -> str:  # noqa: ANN001
    opening = tokens[idx - 2]
    anchor = opening.attrGet("id")
    link = anchor_link(str(anchor)) if anchor else ""
    return f"{link}</{tokens[idx].tag}>\n"


def make_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "typographer": False})
    md.enable("table")
    md.enable("strikethrough")
    md.validateLink = _validate_link
    md.add_render_rule("heading_close", _heading_close)
    # Deep nesting (10,000 '>' levels) must not blow Python's stack.
    md.options["maxNesting"] = 50
    return md


def unique_anchor(title: str, used: set[str]) -> str:
    base = slugify(title) or "section"
    anchor, n = base, 2
    while anchor in used:
        anchor, n = f"{base}-{n}", n + 1
    used.add(anchor)
    return anchor


def render_markdown(md: MarkdownIt, source: str) -> tuple[str, tuple[Heading, ...], str]:
    """Return (html, headings, plain text)."""
    tokens = md.parse(source)
    headings: list[Heading] = []
    used: set[str] = set()
    text: list[str] = []
    for i, tok in enumerate(tokens):
        if tok.type == "inline":
            text.append(tok.content)
        if tok.type == "heading_open" and tok.tag in ("h2", "h3"):
            title = tokens[i + 1].content
            anchor = unique_anchor(title, used)
            tok.attrSet("id", anchor)
            headings.append(Heading(title, anchor, int(tok.tag[1])))
        if tok.type in ("paragraph_open", "heading_open") and i + 1 < len(tokens):
            direction = text_direction(tokens[i + 1].content)
            if direction:
                tok.attrSet("dir", direction)
    html = md.renderer.render(tokens, md.options, {"anchors": True})
    return html, tuple(headings), "\n".join(text)
