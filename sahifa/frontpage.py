"""The theme's page logic: front page, archives, authors, neighbours in a section, reading time.

Pure functions over the Site. Templates only lay out what these return. Nothing here reads the
clock: "recent" is measured from the newest article's date, so the same content always builds
the same pages.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .arabic import MONTHS, digits
from .config import Config
from .model import Article, Entity, Site
from .urls import slugify

WORDS_PER_MINUTE = 180  # Arabic reading speed (an estimate for news prose)
LATEST_CARDS = 6  # stories under the lead shown with their summary; the rest as headlines
SECTION_BLOCK = 4  # stories per section block on the front page
IN_THE_NEWS = 8  # entities in the "في الأخبار" strip
NEWS_MIN_ARTICLES = 3  # the window always covers at least this many of the newest articles


def reading_minutes(article: Article) -> int:
    """Minutes to read the article at WORDS_PER_MINUTE, at least 1."""
    return max(1, math.ceil(article.words / WORDS_PER_MINUTE))


def reading_label(minutes: int, digit_style: str = "latin") -> str:
    """'دقيقة واحدة', 'دقيقتان', '3 دقائق', '11 دقيقة' (Arabic counted-noun agreement)."""
    if minutes == 1:
        text = "دقيقة واحدة"
    elif minutes == 2:
        text = "دقيقتان"
    elif 3 <= minutes % 100 <= 10:
        text = f"{minutes} دقائق"
    else:
        text = f"{minutes} دقيقة"
    return "قراءة في " + digits(text, digit_style)


def standfirst(article: Article) -> str:
    """The summary to show under the headline; '' when it only repeats the opening paragraph
    (scraped text gets its summary cut from the body)."""
    summary = article.summary.strip()
    core = summary.rstrip("….").strip()
    return "" if not core or core in article.text else summary


@dataclass(frozen=True)
class SectionBlock:
    name: str
    path: str
    articles: tuple[Article, ...]
    total: int


@dataclass(frozen=True)
class Trending:
    entity: Entity
    articles: int  # how many recent articles mention it
    mentions: int  # how often, summed over those articles


@dataclass(frozen=True)
class FrontPage:
    lead: Article | None
    latest: tuple[Article, ...]  # shown as cards with summaries
    more: tuple[Article, ...]  # the rest of the first page, headlines only
    blocks: tuple[SectionBlock, ...]
    in_the_news: tuple[Trending, ...]
    news_since: datetime | None  # start of the window "في الأخبار" counts from


def pick_lead(articles: tuple[Article, ...]) -> Article | None:
    """The newest article marked `featured: true`, else the newest article."""
    return next((a for a in articles if a.featured), articles[0] if articles else None)


def in_the_news(
    site: Site, days: int = 7, limit: int = IN_THE_NEWS
) -> tuple[tuple[Trending, ...], datetime | None]:
    """Entities most mentioned in the `days` before the newest article (not the wall clock).

    The window is widened to the NEWS_MIN_ARTICLES newest dated articles when the last days
    were quiet. Ranked by the number of articles, then total mentions, then name.
    """
    dated = [a for a in site.articles if a.date is not None]
    if not dated:
        return (), None
    newest = dated[0].date
    assert newest is not None
    since = newest - timedelta(days=days)
    floor = dated[min(NEWS_MIN_ARTICLES, len(dated)) - 1].date
    assert floor is not None
    since = min(since, floor)
    arts: Counter[str] = Counter()
    mentions: Counter[str] = Counter()
    for art in dated:
        assert art.date is not None
        if art.date < since:
            break
        for ref in art.entities:
            if ref.name in site.entities:
                arts[ref.name] += 1
                mentions[ref.name] += ref.count
    ranked = sorted(arts, key=lambda n: (-arts[n], -mentions[n], n))[:limit]
    return tuple(Trending(site.entities[n], arts[n], mentions[n]) for n in ranked), since


def front_page(site: Site, first_page: tuple[Article, ...], news_days: int = 7) -> FrontPage:
    """The first home page: lead, latest (the rest of page 1), section blocks, entities."""
    lead = pick_lead(site.articles)
    rest = tuple(a for a in first_page if a is not lead)
    blocks = tuple(
        SectionBlock(
            name,
            site.section_paths[name],
            tuple(a for a in items if a is not lead)[:SECTION_BLOCK],
            len(items),
        )
        for name, items in site.sections.items()
    )
    news, since = in_the_news(site, news_days)
    return FrontPage(
        lead=lead,
        latest=rest[:LATEST_CARDS],
        more=rest[LATEST_CARDS:],
        blocks=tuple(b for b in blocks if b.articles),
        in_the_news=news,
        news_since=since,
    )


# --- neighbours in a section -------------------------------------------------------------------


@dataclass(frozen=True)
class Neighbours:
    older: Article | None  # "السابق": published before this one
    newer: Article | None  # "التالي": published after this one


def section_neighbours(site: Site) -> dict[str, Neighbours]:
    """Previous (older) and next (newer) article in the same section, by source."""
    out: dict[str, Neighbours] = {}
    for items in site.sections.values():  # newest first
        for i, art in enumerate(items):
            newer = items[i - 1] if i > 0 else None
            older = items[i + 1] if i + 1 < len(items) else None
            out[art.source] = Neighbours(older=older, newer=newer)
    return out


# --- archives ----------------------------------------------------------------------------------


# Years, months and authors are labels with a count: a listing page's context holds the label,
# never the stories behind it (`ThemeData.listed`), so that a changed headline re-renders the
# pages that show its card, not every page of its year's or author's archive.


@dataclass(frozen=True)
class ArchiveMonth:
    year: int
    month: int
    path: str
    title: str  # 'مارس 2025'
    count: int


@dataclass(frozen=True)
class ArchiveYear:
    year: int
    path: str
    title: str  # '2025'
    months: tuple[ArchiveMonth, ...]  # newest first
    count: int


def archives(
    site: Site, months: str = "standard", digit_style: str = "latin"
) -> tuple[list[ArchiveYear], dict[str, tuple[Article, ...]]]:
    """Dated articles by year and month (in the article's own time zone), newest first: the
    years, and each year's and month's stories by its path."""
    by_month: dict[tuple[int, int], list[Article]] = defaultdict(list)
    for art in site.articles:
        if art.date is not None:
            by_month[(art.date.year, art.date.month)].append(art)
    names = MONTHS.get(months, MONTHS["standard"])
    years: dict[int, list[ArchiveMonth]] = defaultdict(list)
    listed: dict[str, tuple[Article, ...]] = {}
    for (year, month), items in sorted(by_month.items(), reverse=True):
        path = f"/archive/{year}/{month:02d}/"
        label = digits(f"{names[month - 1]} {year}", digit_style)
        years[year].append(ArchiveMonth(year, month, path, label, len(items)))
        listed[path] = tuple(items)
    out = []
    for year, ms in years.items():
        path = f"/archive/{year}/"
        listed[path] = tuple(a for m in ms for a in listed[m.path])
        out.append(
            ArchiveYear(year, path, digits(str(year), digit_style), tuple(ms), len(listed[path]))
        )
    return out, listed


# --- authors -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Author:
    name: str
    slug: str
    path: str
    count: int


def authors(
    site: Site, ascii_only: bool = False
) -> tuple[dict[str, Author], dict[str, tuple[Article, ...]]]:
    """One page per name in the `author` field; slugs made unique in name order. Also each
    author's stories by the author's path."""
    by_name: dict[str, list[Article]] = defaultdict(list)
    for art in site.articles:
        name = art.author.strip()
        if name:
            by_name[name].append(art)
    out: dict[str, Author] = {}
    listed: dict[str, tuple[Article, ...]] = {}
    used: set[str] = set()
    for name in sorted(by_name):
        base = slugify(name, ascii_only) or "author"
        slug, n = base, 2
        while slug in used:
            slug, n = f"{base}-{n}", n + 1
        used.add(slug)
        path = f"/author/{slug}/"
        out[name] = Author(name, slug, path, len(by_name[name]))
        listed[path] = tuple(by_name[name])
    return out, listed


# --- everything the theme adds to the pages, computed once per build -----------------------------


@dataclass(frozen=True)
class ThemeData:
    front: FrontPage
    neighbours: dict[str, Neighbours]
    authors: dict[str, Author]
    years: list[ArchiveYear]
    listed: dict[str, tuple[Article, ...]]  # an archive's or author's stories, by its path
    digit_style: str = "latin"

    @classmethod
    def of(cls, site: Site, config: Config) -> ThemeData:
        by_author, author_listed = authors(site, config.ascii_slugs)
        years, year_listed = archives(site, config.months, config.digits)
        return cls(
            front=front_page(site, site.articles[: config.per_page], config.news_days),
            neighbours=section_neighbours(site),
            authors=by_author,
            years=years,
            listed={**year_listed, **author_listed},
            digit_style=config.digits,
        )

    def article_context(self, article: Article) -> dict[str, Any]:
        """What article.html needs from the site beyond the core context: plain values only
        (what it takes from the article alone is `render.own_context`)."""
        author = self.authors.get(article.author.strip())
        return {
            "neighbours": self.neighbours.get(article.source, Neighbours(None, None)),
            "author_path": author.path if author else None,
        }
