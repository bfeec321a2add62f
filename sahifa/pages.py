"""Which pages a site has and at which paths: pure functions over the Site, no templates."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .model import Article
from .urls import slugify, url_path

RESERVED = {"entity", "page", "static", "search", "feeds", "archive", "author"}


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
    """Pages of `items` (newest first) at base, base/page/2/, ...; always at least one page.

    Page 1 holds the newest `per_page`. The older ones are cut into pages counted from the
    oldest end, so a page keeps its stories when new ones arrive: page 2 takes what is left
    over (fewer than `per_page`, or no page 2 of its own when nothing is), the pages after it
    are full. A new story then changes pages 1 and 2 of each listing it is in, and every page
    of the listing only once in `per_page` stories (when page 2 starts again), where cutting
    from the newest end moved every story of every page on by one each time."""
    head, rest = items[:per_page], items[per_page:]
    short = len(rest) % per_page
    chunks = [head] + ([rest[:short]] if short else [])
    chunks += [rest[i : i + per_page] for i in range(short, len(rest), per_page)]
    total = len(chunks)

    def path(n: int) -> str:
        return base if n == 1 else f"{base}page/{n}/"

    return [
        Pager(
            n,
            total,
            tuple(chunk),
            path(n),
            path(n - 1) if n > 1 else None,
            path(n + 1) if n < total else None,
        )
        for n, chunk in enumerate(chunks, start=1)
    ]
