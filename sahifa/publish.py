"""Feeds (Atom, RSS 2.0, JSON Feed 1.1), sitemaps, a Google News sitemap and robots.txt.

Everything is built with the standard library and depends only on the Site and the Config,
never on the clock: the same input gives the same bytes.

Where the files go (paths inside the site):

* whole site: `atom.xml`, `rss.xml`, `feed.json`
* each section: `<section>/atom.xml`, `<section>/rss.xml`, `<section>/feed.json`
* each entity: `entity/<slug>/atom.xml`, ... (the feed sits beside the page it mirrors)
* `sitemap.xml` (a sitemap index over `sitemap-1.xml`, `sitemap-2.xml`, ... once the site has
  more than 50,000 URLs), `news-sitemap.xml`, `robots.txt`.

Feeds carry the newest `FEED_SIZE` dated articles. Articles without a date are left out of feeds
and of the news sitemap (a feed entry must have a date) but are in `sitemap.xml`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache, partial
from operator import attrgetter

from .config import Config
from .model import Article, Site
from .pages import paginate
from .urls import encode_path

FEED_SIZE = 50
SITEMAP_LIMIT = 50_000
NEWS_WINDOW = timedelta(hours=48)
NEWS_LIMIT = 1_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"
GENERATOR = "Sahifa"

# Characters XML 1.0 cannot carry at all (scraped text sometimes has them).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class FeedSource:
    """One feed: the page it mirrors and the articles in it (newest first)."""

    path: str  # the page's path inside the site, e.g. '/' or '/ثقافة/' or '/entity/x/'
    title: str
    description: str
    articles: tuple[Article, ...]


FEED_FILES = {"atom": "atom.xml", "rss": "rss.xml", "json": "feed.json"}
FEED_TYPES = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
}


def absolute(config: Config, path: str) -> str:
    """The absolute, percent-encoded URL of a path inside the site."""
    return absolute_at(config.base_url, path)


@lru_cache(maxsize=1 << 16)  # a story's URL is in its page, its cards' JSON-LD and feeds
def absolute_at(base_url: str, path: str) -> str:
    """`absolute` from the base URL alone (for caches keyed on it rather than the Config)."""
    return base_url + encode_path(path.lstrip("/"))


def feed_path(page_path: str, kind: str) -> str:
    """'/ثقافة/' + 'atom' -> '/ثقافة/atom.xml'."""
    return page_path + FEED_FILES[kind]


def published(article: Article) -> datetime | None:
    return article.date


def modified(article: Article) -> datetime | None:
    """The later of `updated` and `date` (an `updated` before `date` is ignored)."""
    if article.updated and (article.date is None or article.updated > article.date):
        return article.updated
    return article.date


def newest(articles: Iterable[Article]) -> datetime | None:
    dates = [d for d in (modified(a) for a in articles) if d is not None]
    return max(dates) if dates else None


def site_time(site: Site) -> datetime:
    """The build's reference time: the newest date in the site (never the wall clock)."""
    return newest(site.articles) or EPOCH


def _clean(text: str) -> str:
    return _XML_INVALID.sub("", text)


def _iso(value: datetime) -> str:
    return value.isoformat()


# XML is written straight from small (tag, attributes, text, children) tuples, laid out as
# ElementTree with `ET.indent` lays it out (two spaces a level, `<empty />`), without building
# a tree of Elements: a site has three feeds per section and per entity, and ElementTree's
# serialiser was most of the time spent making them.
# A child may also be a string: XML already written (an entry shared by several feeds).
Node = tuple[str, tuple[tuple[str, str], ...], str, list["Node | str"]]
EntryCache = dict[tuple[str, str], str]  # (feed kind, article source) -> the entry's XML/JSON


def _el(
    tag: str, text: str | None = None, children: list[Node | str] | None = None, **attrs: str
) -> Node:
    return (tag, tuple(attrs.items()), _clean(text) if text is not None else "", children or [])


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attr(value: str) -> str:
    value = _escape_text(value).replace('"', "&quot;")
    return value.replace("\r", "&#13;").replace("\n", "&#10;").replace("\t", "&#09;")


def _write(node: Node, level: int, out: list[str]) -> None:
    tag, attrs, text, children = node
    out.append("<" + tag + "".join(f' {k}="{_escape_attr(v)}"' for k, v in attrs))
    if children:
        inner = "\n" + "  " * (level + 1)
        out.append(">")
        for child in children:
            out.append(inner)
            if isinstance(child, str):
                out.append(child)
            else:
                _write(child, level + 1, out)
        out.append("\n" + "  " * level + "</" + tag + ">")
    elif text:
        out.append(">" + _escape_text(text) + "</" + tag + ">")
    else:
        out.append(" />")


def _written(node: Node, level: int) -> str:
    out: list[str] = []
    _write(node, level, out)
    return "".join(out)


def _entries(
    kind: str, entries: list[Article], text: Callable[[Article], str], cache: EntryCache | None
) -> list[str]:
    """The feed's entries as text (XML or JSON); an article's entry is made once per build
    (`cache`), though it is in the site's, its section's and each of its entities' feeds."""
    if cache is None:
        return list(map(text, entries))
    out: list[str] = []
    for art in entries:
        key = (kind, art.source)
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = text(art)
        out.append(hit)
    return out


def _xml_entry(make: Callable[..., Node], level: int, config: Config) -> Callable[[Article], str]:
    """An entry's XML at `level` (its indentation in the feed)."""
    return lambda art: _written(make(art, config), level)


def _xml_bytes(root: Node) -> bytes:
    out = ['<?xml version="1.0" encoding="utf-8"?>\n']
    _write(root, 0, out)
    out.append("\n")
    return "".join(out).encode("utf-8")


# Which feeds a site has --------------------------------------------------------------------------


def feed_sources(site: Site, config: Config) -> list[FeedSource]:
    """The site feed, then one per section, then one per entity."""
    out = [FeedSource("/", config.title, config.description, site.articles)]
    for name, items in site.sections.items():
        out.append(FeedSource(site.section_paths[name], f"{name} | {config.title}", name, items))
    for name, entity in site.entities.items():
        out.append(
            FeedSource(
                f"/entity/{entity.slug}/",
                f"{name} | {config.title}",
                f"آخر ما نشر عن {name}",
                site.entity_articles.get(name, ()),
            )
        )
    return out


def feed_entries(articles: Iterable[Article], limit: int = FEED_SIZE) -> list[Article]:
    """The newest `limit` dated articles, newest first (ties broken by path)."""
    dated = [a for a in articles if a.date is not None]
    dated.sort(key=_feed_order)
    return dated[:limit]


def _feed_order(article: Article) -> tuple[float, str]:
    return (-article.date.timestamp(), article.path)  # type: ignore[union-attr]


_SOURCE = attrgetter("source")


@dataclass(frozen=True)
class Chronology:
    """Each dated article of one site in feed order, and each one's last-modified time,
    worked out once: the feeds and sitemap pages of a site ask for them ~25 times per
    article (one feed and one listing per entity), and every question then runs in C
    (dict lookups, a sort of ints) instead of a datetime method per article per question."""

    rank: dict[str, int]  # source -> 1 + place in feed order (`feed_entries`), dated only
    ranked: tuple[Article, ...]
    modified: dict[str, tuple[float, datetime]]  # source -> `modified` as (seconds, itself)

    @classmethod
    def of(cls, articles: tuple[Article, ...]) -> Chronology:
        ranked = tuple(feed_entries(articles, limit=len(articles)))
        stamps = {}
        for a in articles:  # an undated article may still have been `updated`
            if (when := modified(a)) is not None:
                stamps[a.source] = (when.timestamp(), when)
        return cls({a.source: i for i, a in enumerate(ranked, 1)}, ranked, stamps)

    def entries(self, articles: Iterable[Article], limit: int = FEED_SIZE) -> list[Article]:
        """`feed_entries` for articles of this site. (Ranks start at 1: `filter(None, ...)`
        then drops just the undated, in C.)"""
        ranks = sorted(filter(None, map(self.rank.get, map(_SOURCE, articles))))
        return [self.ranked[r - 1] for r in ranks[:limit]]

    def newest(self, articles: Iterable[Article]) -> datetime | None:
        """`newest` for articles of this site (equal times: the first, as `newest`)."""
        found = list(filter(None, map(self.modified.get, map(_SOURCE, articles))))
        return max(found)[1] if found else None


def _author(article: Article, config: Config) -> str:
    return article.author or article.byline or config.publisher or config.title


# Atom ---------------------------------------------------------------------------------------------


def atom_feed(
    source: FeedSource, site: Site, config: Config, cache: EntryCache | None = None
) -> bytes:
    entries = feed_entries(source.articles)
    page = absolute(config, source.path)
    self_url = absolute(config, feed_path(source.path, "atom"))
    head = [
        _el("title", source.title),
        _el("subtitle", source.description),
        _el("id", page),
        _el("link", rel="alternate", type="text/html", href=page),
        _el("link", rel="self", type=FEED_TYPES["atom"], href=self_url),
        _el("updated", _iso(newest(entries) or site_time(site))),
        _el("author", children=[_el("name", config.publisher or config.title)]),
        _el("generator", GENERATOR),
    ]
    items = _entries("atom", entries, _xml_entry(_atom_entry, 1, config), cache)
    root = {"xmlns": ATOM_NS, "xml:lang": config.lang}
    return _xml_bytes(_el("feed", children=[*head, *items], **root))


def _atom_entry(art: Article, config: Config) -> Node:
    url = absolute(config, art.path)
    lang = {"xml:lang": art.lang} if art.lang != config.lang else {}
    parts = [
        _el("title", art.title),
        _el("link", rel="alternate", type="text/html", href=url),
        _el("id", url),
        _el("published", _iso(art.date)),  # type: ignore[arg-type]
        _el("updated", _iso(modified(art))),  # type: ignore[arg-type]
        _el("author", children=[_el("name", _author(art, config))]),
        _el("category", term=art.section, label=art.section),
        *(_el("category", term=tag) for tag in art.tags),
    ]
    if art.summary:
        parts.append(_el("summary", art.summary, type="text"))
    return _el("entry", children=parts, **lang)


# RSS 2.0 ------------------------------------------------------------------------------------------


def _rfc822(value: datetime) -> str:
    return format_datetime(value)


def rss_feed(
    source: FeedSource, site: Site, config: Config, cache: EntryCache | None = None
) -> bytes:
    entries = feed_entries(source.articles)
    channel: list[Node | str] = [
        _el("title", source.title),
        _el("link", absolute(config, source.path)),
        _el("description", source.description),
        _el("language", config.lang),
        _el("lastBuildDate", _rfc822(newest(entries) or site_time(site))),
        _el("generator", GENERATOR),
        _el(
            "atom:link",
            href=absolute(config, feed_path(source.path, "rss")),
            rel="self",
            type=FEED_TYPES["rss"],
        ),
    ]
    channel += _entries("rss", entries, _xml_entry(_rss_item, 2, config), cache)
    root = {"version": "2.0", "xmlns:atom": ATOM_NS, "xmlns:dc": DC_NS}
    return _xml_bytes(_el("rss", children=[_el("channel", children=channel)], **root))


def _rss_item(art: Article, config: Config) -> Node:
    url = absolute(config, art.path)
    parts = [
        _el("title", art.title),
        _el("link", url),
        _el("guid", url, isPermaLink="true"),
        _el("pubDate", _rfc822(art.date)),  # type: ignore[arg-type]
        _el("dc:creator", _author(art, config)),
        _el("category", art.section),
    ]
    if art.summary:
        parts.append(_el("description", art.summary))
    return _el("item", children=parts)


# JSON Feed 1.1 ------------------------------------------------------------------------------------


def _json(value: object) -> str:
    # Compact: json's C encoder only runs without indent (pretty-printing was 5x slower).
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_item(art: Article, config: Config) -> str:
    url = absolute(config, art.path)
    item: dict[str, object] = {
        "id": url,
        "url": url,
        "title": art.title,
        "content_text": art.summary or art.title,
        "date_published": _iso(art.date),  # type: ignore[arg-type]
        "date_modified": _iso(modified(art)),  # type: ignore[arg-type]
        "authors": [{"name": _author(art, config)}],
        "tags": [art.section, *art.tags],
    }
    if art.summary:
        item["summary"] = art.summary
    if art.lang != config.lang:
        item["language"] = art.lang
    return _json(item)


def json_feed(
    source: FeedSource, site: Site, config: Config, cache: EntryCache | None = None
) -> bytes:
    feed = {
        "version": JSONFEED_VERSION,
        "title": source.title,
        "description": source.description,
        "home_page_url": absolute(config, source.path),
        "feed_url": absolute(config, feed_path(source.path, "json")),
        "language": config.lang,
        "authors": [{"name": config.publisher or config.title, "url": config.base_url}],
    }
    # Each item is encoded once per build (`cache`, as the XML feeds' entries) and the list
    # spliced in as the object's last member: the JSON of {..., "items": [a, b]} is that of
    # {...} with ',"items":[a,b]' before its closing brace.
    entries = feed_entries(source.articles)
    items_json = ",".join(_entries("json", entries, partial(_json_item, config=config), cache))
    return (_json(feed)[:-1] + ',"items":[' + items_json + "]}\n").encode("utf-8")


# Sitemaps -----------------------------------------------------------------------------------------


def sitemap_urls(
    site: Site, config: Config, chronology: Chronology | None = None
) -> list[tuple[str, datetime | None]]:
    """Every indexable page (path, lastmod): articles, home, sections, entities, their pages."""
    newest = (chronology or Chronology.of(site.articles)).newest
    urls: list[tuple[str, datetime | None]] = [("/", newest(site.articles))]
    urls += [(a.path, modified(a)) for a in site.articles]
    listings: list[tuple[str, tuple[Article, ...]]] = [("/", site.articles)]
    listings += [(site.section_paths[n], items) for n, items in site.sections.items()]
    listings += [
        (f"/entity/{e.slug}/", site.entity_articles.get(n, ())) for n, e in site.entities.items()
    ]
    for base, items in listings:
        for pager in paginate(items, base, config.per_page):
            if pager.path != "/":
                urls.append((pager.path, newest(pager.items)))
    if site.entities:
        urls.append(("/entity/", newest(site.articles)))
    return urls


def _url_entry(url: str, lastmod: datetime | None) -> str:
    """A sitemap's `<url>` as `_write` lays the nodes out at level 1, written directly: a
    site of 10,000 articles lists ~20,000 pages, and making three nodes for each and walking
    them took most of the sitemaps' time (~0.5 s)."""
    loc = _escape_text(_clean(url))
    if not loc:  # never for a URL; `_write` writes an empty element as <loc />
        parts = [_el("loc", url), *([_el("lastmod", _iso(lastmod))] if lastmod is not None else [])]
        return _written(_el("url", children=parts), 1)
    if lastmod is None:
        return f"<url>\n    <loc>{loc}</loc>\n  </url>"
    date = _escape_text(_clean(_iso(lastmod)))
    return f"<url>\n    <loc>{loc}</loc>\n    <lastmod>{date}</lastmod>\n  </url>"


def _urlset(urls: list[tuple[str, datetime | None]], config: Config) -> bytes:
    items: list[Node | str] = [_url_entry(absolute(config, path), when) for path, when in urls]
    return _xml_bytes(_el("urlset", children=items, xmlns=SITEMAP_NS))


def sitemap_files(
    site: Site,
    config: Config,
    limit: int = SITEMAP_LIMIT,
    urls: list[tuple[str, datetime | None]] | None = None,
) -> Iterator[tuple[str, bytes]]:
    """`sitemap.xml`; over `limit` URLs it becomes an index of `sitemap-N.xml` files.
    `urls`: the site's `sitemap_urls`, when the caller has them already."""
    urls = sitemap_urls(site, config) if urls is None else urls
    if len(urls) <= limit:
        yield "sitemap.xml", _urlset(urls, config)
        return
    index = []
    for n, start in enumerate(range(0, len(urls), limit), 1):
        chunk = urls[start : start + limit]
        name = f"sitemap-{n}.xml"
        yield name, _urlset(chunk, config)
        parts = [_el("loc", absolute(config, name))]
        dates = [d for _, d in chunk if d is not None]
        if dates:
            parts.append(_el("lastmod", _iso(max(dates))))
        index.append(_el("sitemap", children=parts))
    yield "sitemap.xml", _xml_bytes(_el("sitemapindex", children=index, xmlns=SITEMAP_NS))


def news_articles(
    site: Site, limit: int = NEWS_LIMIT, chronology: Chronology | None = None
) -> list[Article]:
    """Articles published in the 48 hours up to the newest article's date (not the clock)."""
    dated = (
        list(chronology.ranked) if chronology else feed_entries(site.articles, len(site.articles))
    )
    if not dated:
        return []
    end = dated[0].date
    assert end is not None
    return [a for a in dated if a.date is not None and a.date >= end - NEWS_WINDOW][:limit]


def news_sitemap(site: Site, config: Config) -> bytes:
    return news_xml(news_articles(site), config)


def news_xml(articles: Iterable[Article], config: Config) -> bytes:
    """The news sitemap of `articles` (`news_articles`)."""
    urls = []
    for art in articles:
        publication = [
            _el("news:name", config.publisher or config.title),
            _el("news:language", config.lang),
        ]
        news = [
            _el("news:publication", children=publication),
            _el("news:publication_date", _iso(art.date)),  # type: ignore[arg-type]
            _el("news:title", art.title),
        ]
        loc = _el("loc", absolute(config, art.path))
        urls.append(_el("url", children=[loc, _el("news:news", children=news)]))
    root = {"xmlns": SITEMAP_NS, "xmlns:news": NEWS_NS}
    return _xml_bytes(_el("urlset", children=urls, **root))


def robots_txt(config: Config) -> bytes:
    lines = [
        "User-agent: *",
        "Allow: /",
        "",
        f"Sitemap: {absolute(config, 'sitemap.xml')}",
        f"Sitemap: {absolute(config, 'news-sitemap.xml')}",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


# Everything ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileGroup:
    """Files made together from part of the Site. `key` digests everything they are made
    from (the Config aside: the builder keys that), so an incremental build keeps the
    previous files of a group whose key did not change and calls `make` only for the rest."""

    name: str
    key: str
    make: Callable[[], list[tuple[str, bytes]]]
    shows: CardGroup | None = None  # a feed or the news sitemap: what it lists
    # Takes a good part of a second (a shard of the search index: ~0.3 s at 10,000 articles),
    # not milliseconds: the builder hands these out first, one to a worker (`incremental.spread`).
    heavy: bool = False
    # Groups with the same `batch` share work through a cache (the feeds: their entries) and
    # are made together, by one worker: spread over two, each made every entry once.
    batch: str = ""


# What a feed entry, a news-sitemap entry and an article's stamp use of an article: the cards
# the page store keeps (pagestore.kept_fields) hold these whatever the templates show.
FEED_FIELDS = (
    "source", "path", "title", "summary", "date", "updated", "author", "byline", "section",
    "tags", "lang", "digest",
)  # fmt: skip


@dataclass(frozen=True)
class CardGroup:
    """A feed (`feed`) or the news sitemap (`news`) as the articles it lists: enough to key it
    and make it again from those articles' cards (the quick build after a new headline or
    summary, sahifa/quickedit.py: only a feed that lists the edited article is made again, so
    never one without entries, which the whole site's newest date dates)."""

    feed: FeedSource | None = None
    news: tuple[Article, ...] = ()

    def articles(self) -> tuple[Article, ...]:
        return self.feed.articles if self.feed is not None else self.news

    def key(self) -> str:
        if self.feed is not None:
            return feed_key(self.feed, "", map(article_stamp, self.feed.articles))
        return digest(*map(article_stamp, self.news))

    def files(self, config: Config) -> list[tuple[str, bytes]]:
        if self.feed is not None:
            assert self.feed.articles, "a feed without entries is dated by the whole site"
            return _feed_files(self.feed, Site(articles=()), config, {})
        return [("news-sitemap.xml", news_xml(self.news, config))]


def feed_key(source: FeedSource, fallback: str, stamps: Iterable[str]) -> str:
    """A feed's key: the page it mirrors, its title and description, and its entries' stamps
    (`fallback`, the site's newest date, only when it has none)."""
    empty = not source.articles
    return digest(source.path, source.title, source.description, fallback if empty else "", *stamps)


def article_stamp(article: Article) -> str:
    """What identifies an article's content and place: its source digest and its URL."""
    own = article.digest or hashlib.sha1(repr(article).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{own}|{article.path}"


def digest(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _feed_files(
    source: FeedSource, site: Site, config: Config, cache: EntryCache
) -> list[tuple[str, bytes]]:
    made = {
        "atom": atom_feed(source, site, config, cache),
        "rss": rss_feed(source, site, config, cache),
        "json": json_feed(source, site, config, cache),
    }
    return [(feed_path(source.path, kind).lstrip("/"), data) for kind, data in made.items()]


def publish_groups(site: Site, config: Config) -> Iterator[FileGroup]:
    """Every feed (one group per page it mirrors), the sitemaps, the news sitemap, robots.txt."""
    times = Chronology.of(site.articles)
    # The site's newest date dates a feed without entries, and only such a feed: in the key
    # of every feed, one new story made all ~2,250 feeds of a 10,000-article site again.
    fallback = _iso(times.newest(site.articles) or EPOCH)
    cache: EntryCache = {}  # shared by this build's feeds (each worker fills its own copy)
    stamps = {a.source: article_stamp(a) for a in times.ranked}  # feeds hold dated ones only
    for source in feed_sources(site, config):
        entries = tuple(times.entries(source.articles))
        own = FeedSource(source.path, source.title, source.description, entries)
        key = feed_key(own, fallback, map(stamps.__getitem__, map(_SOURCE, entries)))
        make = partial(_feed_files, own, site, config, cache)
        yield FileGroup(f"feed:{source.path}", key, make, CardGroup(own), batch="feeds")
    urls = sitemap_urls(site, config, times)
    make_maps = partial(sitemap_files, site, config, urls=urls)
    yield FileGroup("sitemaps", digest(repr(urls)), lambda: list(make_maps()))
    news = tuple(news_articles(site, chronology=times))
    shows = CardGroup(news=news)
    yield FileGroup("news-sitemap", shows.key(), partial(shows.files, config), shows)
    yield FileGroup("robots", "", lambda: [("robots.txt", robots_txt(config))])


@lru_cache(maxsize=4096)  # the site's own feeds are in every page's head
def feed_links(page_path: str, title: str, config: Config) -> tuple[dict[str, str], ...]:
    """`<link rel="alternate">` data for the feeds of one listing page (root-relative hrefs);
    shared between pages, so never to be changed."""
    labels = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}
    return tuple(
        {
            "type": FEED_TYPES[kind],
            "href": config.base_path + feed_path(page_path, kind).lstrip("/"),
            "title": f"{title} ({labels[kind]})",
        }
        for kind in FEED_FILES
    )
