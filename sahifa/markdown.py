"""Markdown to HTML with markdown-it-py: raw HTML off, safe links, anchored headings."""

from __future__ import annotations

import html as html_lib
import logging
import re

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

from .arabic import text_direction
from .bidi import escape_only, is_arabic_line, isolate
from .model import Heading
from .urls import slugify

_SAFE_SCHEMES = ("http:", "https:", "mailto:", "tel:")
MAX_NESTING = 50
log = logging.getLogger("sahifa")


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


def _text(self, tokens, idx, options, env) -> str:  # noqa: ANN001
    return isolate(tokens[idx].content, arabic_line=tokens[idx].meta.get("arabic_line", False))


def _image(self, tokens, idx, options, env) -> str:  # noqa: ANN001
    # Images in the body are below the headline and lead: let the browser fetch them late.
    tokens[idx].attrSet("loading", "lazy")
    tokens[idx].attrSet("decoding", "async")
    return self.image(tokens, idx, options, env)


def make_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "typographer": False})
    md.enable("table")
    md.enable("strikethrough")
    # With "html" off these two rules return at once; off the rule chains, they are not even
    # called (and logged) for every line and every inline run: 3-6 % of the parse.
    md.disable(["html_block", "html_inline"])
    md.validateLink = _validate_link
    md.add_render_rule("heading_close", _heading_close)
    md.add_render_rule("image", _image)
    md.add_render_rule("text", _text)  # Latin runs in Arabic lines go out in <bdi> (bidi.py)
    # Deep nesting (10,000 '>' levels) must not blow Python's stack.
    md.options["maxNesting"] = MAX_NESTING
    _note_cut_nesting(md)
    return md


def _note_cut_nesting(md: MarkdownIt) -> None:
    """markdown-it silently drops whatever is nested deeper than maxNesting; note the first
    line it drops in `env["cut_at_line"]` (0-based) so the reader can say so."""
    tokenize = md.block.tokenize

    def guarded(state, start: int, end: int) -> None:  # noqa: ANN001
        if state.level >= MAX_NESTING:
            line = state.skipEmptyLines(start)
            if line < end and state.sCount[line] >= state.blkIndent:
                state.env["cut_at_line"] = min(state.env.get("cut_at_line", line), line)
        tokenize(state, start, end)

    md.block.tokenize = guarded  # type: ignore[method-assign]


def unique_anchor(title: str, used: set[str]) -> str:
    base = slugify(title) or "section"
    anchor, n = base, 2
    while anchor in used:
        anchor, n = f"{base}-{n}", n + 1
    used.add(anchor)
    return anchor


def render_markdown(
    md: MarkdownIt, source: str, name: str = "", first_line: int = 1
) -> tuple[str, tuple[Heading, ...], str]:
    """Return (html, headings, plain text). `name` and `first_line` (the body's first line in
    the file) are for the warning about text nested too deeply to show."""
    prose = render_prose(source)
    return prose if prose is not None else _render_tokens(md, source, name, first_line)


def _render_tokens(
    md: MarkdownIt, source: str, name: str, first_line: int
) -> tuple[str, tuple[Heading, ...], str]:
    """`render_markdown` through markdown-it's tokens: any Markdown."""
    env: dict[str, int] = {}
    tokens = md.parse(source, env)
    if "cut_at_line" in env:
        log.warning(
            "%s:%d: Markdown nested more than %d levels deep; the deeper text is left out",
            name or "<markdown>", first_line + env["cut_at_line"], MAX_NESTING,
        )  # fmt: skip
    headings: list[Heading] = []
    used: set[str] = set()
    text: list[str] = []
    for i, tok in enumerate(tokens):
        if tok.type == "inline":
            text.append(tok.content)
            arabic_line = is_arabic_line(tok.content)  # decided per line, used per text piece
            for child in tok.children or ():
                child.meta["arabic_line"] = arabic_line
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


# Prose: paragraphs and `#` headings whose text no rule of markdown-it acts on. Most news
# articles are only that, and rendering them here takes a fifth of markdown-it's time (it
# makes and walks a token per line, per paragraph and per rule it tries). `render_prose`
# gives exactly what `render_markdown` gives through markdown-it; a differential property
# test holds it to that (tests/test_properties.py). Anything else goes to markdown-it.
#
# Refused anywhere: what starts an inline rule (backslash, backtick, *, _, ~, [ and ], so
# also an image's ![, <, &), a table's |, tabs, CR and NUL. Refused at the start of a line:
# what starts a block or a list (#, >, -, +, =, a digit) unless it is a heading, and white
# space, which indents or is stripped.
_INLINE_SYNTAX = re.compile(r"[\\`*_~\[\]<&|\t\r\x00]")
_BLOCK_START = re.compile(r"[#>\-+=0-9]")
_HEADING = re.compile(r"(#{1,6}) ([^#]+)")


def render_prose(source: str) -> tuple[str, tuple[Heading, ...], str] | None:
    """(html, headings, plain text) of a body of plain paragraphs and headings, else None."""
    if _INLINE_SYNTAX.search(source) is not None:
        return None
    blocks: list[tuple[int, list[str]]] = []  # (heading level or 0 for a paragraph, lines)
    para: list[str] = []
    for line in source.split("\n"):
        if not line.strip(" "):  # blank: spaces only
            if para:
                blocks.append((0, para))
                para = []
            continue
        if line != line.strip():
            return None
        if _BLOCK_START.match(line):
            heading = _HEADING.fullmatch(line)
            if heading is None or heading.group(2) != heading.group(2).strip():
                return None
            if para:
                blocks.append((0, para))
                para = []
            blocks.append((len(heading.group(1)), [heading.group(2)]))
            continue
        para.append(line)
    if para:
        blocks.append((0, para))
    return _prose_html(blocks, escape_only(source))


def _prose_html(
    blocks: list[tuple[int, list[str]]], plain: bool
) -> tuple[str, tuple[Heading, ...], str]:
    html: list[str] = []
    headings: list[Heading] = []
    used: set[str] = set()
    text: list[str] = []
    for level, lines in blocks:
        content = "\n".join(lines)
        text.append(content)
        if plain:  # Arabic without Latin runs or phone numbers: only escaped, no `dir`
            inner = html_lib.escape(content, quote=False)
        else:
            arabic_line = is_arabic_line(content)
            inner = "\n".join(isolate(line, arabic_line=arabic_line) for line in lines)
        attrs = link = ""
        if level in (2, 3):  # as in `_render_tokens`: an id, then the direction
            anchor = unique_anchor(content, used)
            headings.append(Heading(content, anchor, level))
            attrs, link = f' id="{escapeHtml(anchor)}"', anchor_link(anchor)
        direction = None if plain else text_direction(content)
        if direction:
            attrs += f' dir="{escapeHtml(direction)}"'
        tag = f"h{level}" if level else "p"
        html.append(f"<{tag}{attrs}>{inner}{link}</{tag}>\n")
    return "".join(html), tuple(headings), "\n".join(text)
