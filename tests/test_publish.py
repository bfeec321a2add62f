"""Feeds, sitemaps, the news sitemap and robots.txt: parsed as XML/JSON, never string-matched."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from bs4 import BeautifulSoup, SoupStrainer
from hypothesis import given
from hypothesis import strategies as st

from sahifa import publish
from sahifa.config import load_config
from sahifa.pipeline import build, make_site

from .conftest import make_content

A = "{http://www.w3.org/2005/Atom}"
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
BASE = "https://example.org/news/"
ONLY_LINKS = SoupStrainer("link")


def md(title: str, date: str | None, section: str, body: str = "نص الخبر.\n", **extra: str) -> str:
    lines = [f"title: {title}", f"section: {section}"] + ([f"date: {date}"] if date else [])
    lines += [f"{k}: {v}" for k, v in extra.items()]
    return "---\n" + "\n".join(lines) + "\n---\n" + body


FILES = {
    "a.md": md("غارات قرب الفرات", "2024-10-09T08:00:00+03:00", "سوريا",
               "شهدت دير الزور غارات جديدة قرب نهر الفرات.\n", author="ليلى حداد",
               summary="ملخص عن الغارات & <الفرات>"),
    "b.md": md("معرض للكتاب في القاهرة", "2024-10-08T09:00:00+02:00", "ثقافة",
               "افتتح معرض الكتاب في القاهرة.\n", updated="2024-10-10T12:00:00+02:00"),
    "c.md": md("مهرجان في دمشق", "2024-10-01T08:00:00+00:00", "ثقافة", "افتتح المهرجان في دمشق.\n"),
    "d.md": md("مسودة", "2024-10-09T09:00:00+00:00", "ثقافة", draft="true"),
    "e.md": md("خبر بلا تاريخ", None, "سوريا", "نص بلا تاريخ عن دمشق.\n"),
}  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("publish")
    content = make_content(tmp, FILES)
    out = tmp / "site"
    build(load_config(None, content_dir=content, output_dir=out, base_url=BASE))
    return out


def xml(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def local(site: Path, url: str) -> Path:
    """The file an absolute site URL maps to."""
    assert url.startswith(BASE), url
    rel = unquote(urlsplit(url).path)[len("/news/") :]
    target = site / rel
    return target / "index.html" if rel == "" or rel.endswith("/") else target


def test_atom_site_feed(site: Path):
    feed = xml(site / "atom.xml")
    assert feed.tag == f"{A}feed" and feed.get(XML_LANG) == "ar"
    assert feed.findtext(f"{A}title") == "صحيفة"
    self_link = feed.find(f"{A}link[@rel='self']").get("href")
    assert self_link == BASE + "atom.xml"
    entries = feed.findall(f"{A}entry")
    titles = [e.findtext(f"{A}title") for e in entries]
    # Newest first; the draft and the undated article are not in the feed.
    assert titles == ["غارات قرب الفرات", "معرض للكتاب في القاهرة", "مهرجان في دمشق"]
    first = entries[0]
    assert first.findtext(f"{A}published") == "2024-10-09T08:00:00+03:00"
    assert datetime.fromisoformat(first.findtext(f"{A}updated")).utcoffset() is not None
    assert first.findtext(f"{A}author/{A}name") == "ليلى حداد"
    assert first.findtext(f"{A}summary") == "ملخص عن الغارات & <الفرات>"
    assert first.find(f"{A}category").get("term") == "سوريا"
    for entry in entries:
        href = entry.find(f"{A}link[@rel='alternate']").get("href")
        assert local(site, href).is_file()
    # updated = the newest modification in the feed (b.md was updated on the 10th).
    assert feed.findtext(f"{A}updated") == "2024-10-10T12:00:00+02:00"
    assert entries[1].findtext(f"{A}updated") == "2024-10-10T12:00:00+02:00"


def test_rss_site_feed(site: Path):
    rss = xml(site / "rss.xml")
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    channel = rss.find("channel")
    assert channel.findtext("language") == "ar"
    assert channel.find(f"{A}link").get("href") == BASE + "rss.xml"
    items = channel.findall("item")
    assert [i.findtext("title") for i in items][0] == "غارات قرب الفرات"
    when = parsedate_to_datetime(items[0].findtext("pubDate"))
    assert when == datetime.fromisoformat("2024-10-09T08:00:00+03:00")
    assert when.utcoffset() == timedelta(hours=3)
    assert items[0].find("guid").get("isPermaLink") == "true"
    assert local(site, items[0].findtext("link")).is_file()
    assert parsedate_to_datetime(channel.findtext("lastBuildDate")).tzinfo is not None


def test_json_feed(site: Path):
    feed = json.loads((site / "feed.json").read_text("utf-8"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["language"] == "ar" and feed["feed_url"] == BASE + "feed.json"
    first = feed["items"][0]
    assert first["title"] == "غارات قرب الفرات"
    assert first["date_published"] == "2024-10-09T08:00:00+03:00"
    assert first["authors"] == [{"name": "ليلى حداد"}]
    assert all(local(site, item["url"]).is_file() for item in feed["items"])


def test_json_feeds_are_compact_json_byte_for_byte(site: Path):
    """Items are encoded once a build and spliced into each feed: every feed.json (the
    site's, sections', entities') is still exactly the compact encoding of what it holds,
    with "items" last, and an entity's items are the same text as in the site feed."""
    paths = sorted(site.rglob("feed.json"))
    assert len(paths) > 3
    for path in paths:
        text = path.read_text("utf-8")
        value = json.loads(text)
        assert list(value)[-1] == "items" and value["items"]
        assert text == json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"
    by_url = {i["url"]: i for i in json.loads((site / "feed.json").read_text("utf-8"))["items"]}
    for item in json.loads((site / "entity" / "دمشق" / "feed.json").read_text("utf-8"))["items"]:
        assert item == by_url[item["url"]]


def test_section_and_entity_feeds(site: Path):
    section = xml(site / "ثقافة" / "atom.xml")
    titles = {e.findtext(f"{A}title") for e in section.findall(f"{A}entry")}
    assert titles == {"معرض للكتاب في القاهرة", "مهرجان في دمشق"}
    entity_feeds = sorted((site / "entity").glob("*/atom.xml"))
    assert entity_feeds, "each entity has a feed"
    for path in entity_feeds:
        feed = xml(path)
        page = feed.find(f"{A}link[@rel='alternate']").get("href")
        assert local(site, page).is_file()
        assert (path.parent / "rss.xml").is_file() and (path.parent / "feed.json").is_file()
    damascus = xml(site / "entity" / "دمشق" / "rss.xml")
    assert {i.findtext("title") for i in damascus.iter("item")} == {"مهرجان في دمشق"}


def test_every_page_links_its_feeds(site: Path):
    kinds = {"application/atom+xml", "application/rss+xml", "application/feed+json"}
    for page in site.rglob("*.html"):
        soup = BeautifulSoup(page.read_text("utf-8"), "html.parser", parse_only=ONLY_LINKS)
        links = soup.select("link[rel=alternate][type]")
        assert kinds <= {link["type"] for link in links}, page
        for link in links:
            href = link["href"]
            assert href.startswith("/news/"), href
            assert (site / unquote(href)[len("/news/") :]).is_file(), href
    section_page = BeautifulSoup((site / "ثقافة" / "index.html").read_text("utf-8"), "html.parser")
    hrefs = {unquote(link["href"]) for link in section_page.select("link[rel=alternate]")}
    assert "/news/ثقافة/atom.xml" in hrefs and "/news/atom.xml" in hrefs


def test_pages_link_their_own_listings_feeds(site: Path):
    """Beside the site's feeds, a story links its section's and an entity page its entity's.
    The links are rendered once per listing and reused (a `fragment`): no page may get
    another listing's."""

    def feeds(page: Path) -> set[str]:
        soup = BeautifulSoup(page.read_text("utf-8"), "html.parser", parse_only=ONLY_LINKS)
        return {unquote(link["href"]) for link in soup.select("link[rel=alternate][type]")}

    sections = {"ثقافة", "سوريا"}
    stories = [p for p in site.glob("*/*/index.html") if p.parts[-3] in sections]
    assert len(stories) == 4  # a, b, c, e: the draft d is not published
    for page in stories:
        got = feeds(page)
        own = page.parts[-3]
        assert {"/news/rss.xml", f"/news/{own}/rss.xml", f"/news/{own}/feed.json"} <= got, page
        assert not any(href.startswith(f"/news/{other}/") for other in sections - {own}
                       for href in got), page  # fmt: skip
    damascus = feeds(site / "entity" / "دمشق" / "index.html")
    assert "/news/entity/دمشق/atom.xml" in damascus
    assert not any(href.startswith(("/news/ثقافة/", "/news/سوريا/")) for href in damascus)


def test_feed_keeps_newest_n(tmp_path: Path):
    files = {
        f"n{i:02d}.md": md(f"خبر رقم {i}", f"2024-01-01T{i % 24:02d}:00:00+00:00", "أخبار")
        for i in range(publish.FEED_SIZE + 5)
    }
    files = {
        k: md(f"خبر رقم {i}", (datetime(2024, 1, 1) + timedelta(hours=i)).isoformat() + "+00:00", "أخبار")
        for i, k in enumerate(files)
    }  # fmt: skip
    content = make_content(tmp_path, files)
    config = load_config(None, content_dir=content, output_dir=tmp_path / "site")
    site = make_site(config)
    feed = ET.fromstring(publish.atom_feed(publish.feed_sources(site, config)[0], site, config))
    entries = feed.findall(f"{A}entry")
    assert len(entries) == publish.FEED_SIZE
    assert entries[0].findtext(f"{A}title") == f"خبر رقم {publish.FEED_SIZE + 4}"
    assert entries[-1].findtext(f"{A}title") == "خبر رقم 5"


def test_sitemap_lists_every_page_with_lastmod(site: Path):
    root = xml(site / "sitemap.xml")
    assert root.tag == f"{SM}urlset"
    locs = {u.findtext(f"{SM}loc"): u.findtext(f"{SM}lastmod") for u in root.findall(f"{SM}url")}
    assert BASE in locs
    for loc in locs:
        assert local(site, loc).is_file(), loc
        assert loc == loc.encode("ascii").decode(), "sitemap URLs are percent-encoded"
    article = next(loc for loc in locs if unquote(loc).endswith("/معرض-للكتاب-في-القاهرة/"))
    assert locs[article] == "2024-10-10T12:00:00+02:00"
    undated = next(loc for loc in locs if unquote(loc).endswith("/خبر-بلا-تاريخ/"))
    assert locs[undated] is None
    assert sum(1 for loc in locs if "/entity/" in loc) >= 2


def test_sitemap_index_over_the_limit(tmp_path: Path):
    content = make_content(tmp_path, FILES)
    config = load_config(None, content_dir=content, output_dir=tmp_path / "s", base_url=BASE)
    site = make_site(config)
    total = len(publish.sitemap_urls(site, config))
    files = dict(publish.sitemap_files(site, config, limit=3))
    index = ET.fromstring(files["sitemap.xml"])
    assert index.tag == f"{SM}sitemapindex"
    parts = [s.findtext(f"{SM}loc") for s in index.findall(f"{SM}sitemap")]
    assert parts == [f"{BASE}sitemap-{n}.xml" for n in range(1, len(parts) + 1)]
    counted = 0
    for n in range(1, len(parts) + 1):
        chunk = ET.fromstring(files[f"sitemap-{n}.xml"])
        assert 1 <= len(chunk.findall(f"{SM}url")) <= 3
        counted += len(chunk.findall(f"{SM}url"))
    assert counted == total


def test_news_sitemap_window_is_relative_to_newest_article(site: Path):
    root = xml(site / "news-sitemap.xml")
    urls = root.findall(f"{SM}url")
    titles = [u.findtext(f"{NEWS}news/{NEWS}title") for u in urls]
    # Newest: 2024-10-09 05:00 UTC. The 8 Oct 07:00 UTC one is inside 48 h; 1 Oct is not.
    assert titles == ["غارات قرب الفرات", "معرض للكتاب في القاهرة"]
    pub = urls[0].find(f"{NEWS}news/{NEWS}publication")
    assert pub.findtext(f"{NEWS}name") == "صحيفة" and pub.findtext(f"{NEWS}language") == "ar"
    assert urls[0].findtext(f"{NEWS}news/{NEWS}publication_date") == "2024-10-09T08:00:00+03:00"


def test_robots_points_at_both_sitemaps(site: Path):
    lines = (site / "robots.txt").read_text("utf-8").splitlines()
    sitemaps = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Sitemap:")]
    assert sitemaps == [BASE + "sitemap.xml", BASE + "news-sitemap.xml"]


def test_same_input_same_bytes(tmp_path: Path):
    content = make_content(tmp_path, FILES)
    outs = []
    for name in ("one", "two"):
        out = tmp_path / name
        build(load_config(None, content_dir=content, output_dir=out, base_url=BASE))
        outs.append(out)
    names = ["atom.xml", "rss.xml", "feed.json", "sitemap.xml", "news-sitemap.xml", "robots.txt"]
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_invalid_xml_characters_are_dropped(tmp_path: Path):
    scraped = "---\ndate: 2024-01-01\n---\nعنوان\x01 فيه محرف\n\nنص الخبر في سطر طويل بما يكفي ليكون فقرة.\n"
    content = make_content(tmp_path, {"a.txt": scraped})
    config = load_config(None, content_dir=content, output_dir=tmp_path / "s")
    site = make_site(config)
    feed = ET.fromstring(publish.rss_feed(publish.feed_sources(site, config)[0], site, config))
    assert feed.find("channel/item/title").text == "عنوان فيه محرف"
    assert "\x01" in site.articles[0].title  # the article keeps it; only the XML drops it


def test_feed_entries_written_once_are_the_same_in_every_feed(tmp_path: Path):
    """Atom and RSS entries are written once per build and reused by every feed that lists
    the article (site, section, entities): each feed is byte for byte the one made alone."""
    content = make_content(tmp_path, FILES)
    config = load_config(None, content_dir=content, output_dir=tmp_path / "site", base_url=BASE)
    site = make_site(config)
    cache: publish.EntryCache = {}
    sources = publish.feed_sources(site, config)
    assert len(sources) > 3
    for source in sources:
        for write in (publish.atom_feed, publish.rss_feed):
            shared = write(source, site, config, cache)
            assert shared == write(source, site, config)
            assert len(ET.fromstring(shared)) > 0  # well-formed
    assert cache  # entries were shared


def test_the_chronology_answers_as_the_plain_functions():
    """Feeds and sitemaps ask a site's Chronology (one sort, then lookups) instead of
    sorting each list by date: on random sublists, with ties, undated articles, time zones
    and `updated` both before and after `date`, the answers are the same."""
    import random
    from datetime import timezone

    from sahifa.model import Article

    rng = random.Random(5)
    zones = [timezone(timedelta(hours=h)) for h in (0, 3, -5)]
    base = datetime(2025, 3, 1, tzinfo=zones[0])

    def when() -> datetime:
        return (base + timedelta(hours=rng.randrange(0, 40))).astimezone(rng.choice(zones))

    arts = []
    for i in range(300):
        date = when() if rng.random() > 0.1 else None
        updated = when() if rng.random() > 0.6 else None
        arts.append(
            Article(
                source=f"s{i:03d}.md",
                title=f"t{i}",
                slug=f"x{i}",
                section="s",
                body_html="",
                text="",
                date=date,
                updated=updated,
                path=f"/s/{rng.choice('abc')}{i}/",
            )  # fmt: skip
        )
    times = publish.Chronology.of(tuple(arts))
    assert [a.source for a in times.ranked] == [
        a.source for a in publish.feed_entries(arts, limit=len(arts))
    ]
    for _ in range(300):
        part = rng.sample(arts, rng.randrange(0, 80))
        limit = rng.choice([1, 5, 50])
        assert times.entries(part, limit) == publish.feed_entries(part, limit)
        assert times.newest(part) == publish.newest(part)
        assert repr(times.newest(part)) == repr(publish.newest(part))  # the same zone too


@given(
    url=st.text(max_size=40),
    lastmod=st.none() | st.datetimes(timezones=st.sampled_from([None, UTC])),
)
def test_a_sitemap_url_is_written_as_its_nodes_would_be(url: str, lastmod: datetime | None):
    """Sitemap entries are written straight to text (`publish._url_entry`): the same text as
    the `<url>` node with its `<loc>` and `<lastmod>`, for any URL (markup, control
    characters, empty) and any date."""
    parts = [publish._el("loc", url)]
    if lastmod is not None:
        parts.append(publish._el("lastmod", lastmod.isoformat()))
    expected = publish._written(publish._el("url", children=parts), 1)
    assert publish._url_entry(url, lastmod) == expected
