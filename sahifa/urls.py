"""Slugs and URLs. Slugs keep Arabic letters; an ASCII option transliterates."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from urllib.parse import quote

from slugify import slugify as _slugify

from .arabic import strip_marks

MAX_SLUG = 80
# A path segment must stay under 255 bytes on every file system; Arabic takes 2 bytes a letter
# and some scripts 4, so the byte length is capped too, with room for '-2' or a 'section-' prefix.
MAX_SLUG_BYTES = 200
_WINDOWS_RESERVED = (
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)


@lru_cache(maxsize=1 << 14)  # sections, heading anchors and entity names come back often
def slugify(text: str, ascii_only: bool = False) -> str:
    """A URL- and file-system-safe slug; '' when nothing usable is left.

    Harakat and tatweel are removed first: python-slugify would otherwise treat them as word
    breaks and split `مُحَمَّد` into pieces.
    """
    text = strip_marks(unicodedata.normalize("NFC", text))
    slug = _slugify(text, allow_unicode=not ascii_only, max_length=MAX_SLUG, word_boundary=True)
    slug = unicodedata.normalize("NFC", slug).strip("-.")
    if len(slug.encode()) > MAX_SLUG_BYTES:
        cut = slug.encode()[:MAX_SLUG_BYTES].decode("utf-8", "ignore")
        slug = (cut.rsplit("-", 1)[0] if "-" in cut else cut).strip("-.")
    if slug in _WINDOWS_RESERVED:
        slug += "-1"
    return slug


_SAFE = re.compile(r"^[^/\\\x00]+$")


def is_safe_segment(segment: str) -> bool:
    """True when a slug can be one folder name: no separators, no dot names, no NUL."""
    return bool(_SAFE.match(segment)) and segment not in (".", "..")


def url_path(*segments: str) -> str:
    """'/a/b/' from segments (unencoded: the site's links keep readable Arabic)."""
    inner = "/".join(s for s in segments if s)
    return "/" + inner + "/" if inner else "/"


@lru_cache(maxsize=1 << 16)  # the same paths are encoded for pages, feeds and sitemaps
def encode_path(path: str) -> str:
    """Percent-encode a site path for places that need ASCII URLs (share links, sitemaps)."""
    return quote(path, safe="/#?=&")
