"""Isolate Latin runs and phone-like numbers inside Arabic lines (typography rule 5).

Without isolation the Unicode bidi algorithm lets neutral characters next to a Latin run take the
Arabic paragraph's direction: `شركة Yahoo! عن` shows `!Yahoo`, `الكاتب: Smith, J. 3 مقالات`
glues the 3 to the name, and `+961 1 234 567` has its digit groups reversed. Each such run goes
out as `<bdi>…</bdi>` (numbers as `<bdi dir="ltr">`), which the browser lays out on its own.

What joins a run: Latin words (letters, digits, `'`, `-`, `.`, `&` inside a word), joined by
spaces or `, : / + @` when another Latin word follows. An attached `!` or `?`, and the `.` of an
initial (`J.`), belong to the run when the line goes on after it; sentence-final punctuation stays
outside so it lands at the Arabic sentence's end. Plain numbers (`عام 2024`) need nothing.
A line that is mostly Latin is left alone: it gets `dir="ltr"` as a whole instead.
"""

from __future__ import annotations

import html
import re

from .arabic import LTR_LETTERS, text_direction

_WORD = r"[A-Za-z\u00C0-\u024F][A-Za-z0-9\u00C0-\u024F]*(?:['’.&-][A-Za-z0-9\u00C0-\u024F]+)*"
_JOIN = r"(?:[ \t]+|[ \t]*[,:/+@.][ \t]*)"
_NUMWORD = r"[0-9]+(?:[.,][0-9]+)*"
# A run starts with a Latin word; digits may follow inside it ("iPhone 17", "COVID-19").
_RUN = re.compile(
    rf"{_WORD}(?:{_JOIN}(?:{_WORD}|{_NUMWORD}(?=[ \t]*(?:$|[^\u0600-\u06FF\s]))))*"
    rf"(?:(?<=\b[A-Z])\.|[!?])?",
)
# An international or spaced phone number: +961 1 234 567, 00963 11 123 4567.
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)[0-9]{1,4}(?:[ \t-][0-9]{1,5}){1,5}(?![\w])")
# What any run or phone number starts with: most Arabic lines have none and skip the scans.
_MAY_NEED = re.compile(r"[A-Za-z\u00C0-\u024F]|\+[0-9]|00[0-9]")
# Anything that makes a line more than escaped text: a run or number to isolate, or a letter
# `text_direction` counts as left-to-right.
_NOT_PLAIN = re.compile(f"{_MAY_NEED.pattern}|{LTR_LETTERS}")
# The characters any of those starts with (LTR_LETTERS holds _MAY_NEED's letters, which
# leaves + and 0): one class, which `re` scans several times faster than the alternation
# (most Arabic bodies have none of them).
_NOT_PLAIN_FIRST = re.compile(LTR_LETTERS[:-1] + "+0]")
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")


def _ends_line(text: str, end: int) -> bool:
    return not text[end:].strip()


def is_arabic_line(text: str) -> bool:
    """True when `text` has Arabic and is not mostly Latin: its Latin runs need isolating."""
    return bool(_ARABIC.search(text)) and text_direction(text) != "ltr"


def escape_only(text: str) -> bool:
    """No left-to-right letter and nothing `isolate` would wrap: every line of `text` only
    needs escaping, and none needs a `dir` of its own."""
    return _NOT_PLAIN_FIRST.search(text) is None or _NOT_PLAIN.search(text) is None


def isolate(text: str, arabic_line: bool | None = None) -> str:
    """`text` as escaped HTML, with Latin runs and phone numbers in an Arabic line isolated.

    `arabic_line` says whether the line `text` is part of is Arabic (for a piece of a line, say
    the words inside `**…**`); by default `text` is taken as the whole line.
    """
    if arabic_line is None:
        arabic_line = is_arabic_line(text)
    if not arabic_line or _MAY_NEED.search(text) is None:
        return html.escape(text, quote=False)
    spans: list[tuple[int, int, str]] = []
    for m in _PHONE.finditer(text):
        spans.append((m.start(), m.end(), '<bdi dir="ltr">'))
    for m in _RUN.finditer(text):
        start, end = m.start(), m.end()
        if any(s < end and start < e for s, e, _ in spans):
            continue
        if text[end - 1] in "!?." and _ends_line(text, end):
            end -= 1  # sentence-final: it belongs to the Arabic sentence
        spans.append((start, end, "<bdi>"))
    spans.sort()
    out: list[str] = []
    at = 0
    for start, end, tag in spans:
        out.append(html.escape(text[at:start], quote=False))
        out.append(f"{tag}{html.escape(text[start:end], quote=False)}</bdi>")
        at = end
    out.append(html.escape(text[at:], quote=False))
    return "".join(out)
