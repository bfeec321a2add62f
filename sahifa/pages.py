"""Which pages a site has and at which paths: pure functions over the Site, no templates."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .model import Article
from .urls import slugify, url_path

RESERVED = {"entity", "page", "static", "search", "feeds", "pagefind", "archive", "author"}


@lru_cache(maxsize=4096)  # a handful of sections, asked for by every article of every build
def section_slug(section: str, ascii_only: bool = False) -> str:
    slug = slugify(section, ascii_only) or "section"
    return f"section-{slug}" if slug in RESERVED else slug


def article_path(article: Article, ascii_only: bool = False) -> str:
    """The article's URL path, e.g. '/سياسة/عنوان-المقال/'."""
    return url_path(section_slug(article.section, ascii_only), article.slug)


@dataclass(frozen=True)
class Pager:
    number: int
    total: int
    items: tuple[Any, ...]
    path: str
    prev_path: str | None
    next_path: str | None


def paginate(items: tuple[Any, ...], base: str, per_page: int) -> list[Pager]:
    """Pages of `items` at base, base/page/2/, ...; always at least one page."""
    total = max(1, math.ceil(len(items) / per_page))

    def path(n: int) -> str:
        return base if n == 1 else f"{base}page/{n}/"

    return [
        Pager(
            n,
            total,
            tuple(items[(n - 1) * per_page : n * per_page]),
            path(n),
            path(n - 1) if n > 1 else None,
            path(n + 1) if n < total else None,
        )
        for n in range(1, total + 1)
    ]
