"""Whole builds: the pages, their structure (parsed, not string-matched), atomic output."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from bs4 import BeautifulSoup

from sahifa.config import load_config
from sahifa.errors import ContentError
from sahifa.pipeline import build

from .conftest import SEED, make_content

SEED_FM = "---\ndate: 2024-10-08T10:00:00+03:00\nsection: سوريا\n---\n"


def md(title: str, date: str, section: str, body: str, **extra: str) -> str:
    lines = [f"title: {title}", f"date: {date}", f"section: {section}"]
    lines += [f"{k}: {v}" for k, v in extra.items()]
    return "---\n" + "\n".join(lines) + "\n---\n" + body


@pytest.fixture
def small_site(tmp_path: Path) -> Path:
    content = make_content(
        tmp_path,
        {
            "seed.txt": SEED_FM + SEED.read_text(encoding="utf-8"),
            "a.md": md("غارات قرب الفرات", "2024-10-09T08:00:00+03:00", "سوريا",
                       "شهدت دير الزور وحقل كونيكو غارات جديدة قرب نهر الفرات.\n"),
            "b.md": md("معرض للكتاب في القاهرة", "2024-10-01T08:00:00+02:00", "ثقافة",
                       "افتتح معرض الكتاب في القاهرة.\n"),
            "c.md": md("Festival notes", "2024-09-01T08:00:00+00:00", "ثقافة",
                       "The festival opened in Cairo today.\n", lang="en"),
            "d.md": md("مسودة", "2024-09-02T08:00:00+00:00", "ثقافة", "نص.\n", draft="true"),
        },
    )  # fmt: skip
    out = tmp_path / "site"
    build(load_config(None, content_dir=content, output_dir=out))
    return out


def page(site: Path, *parts: str) -> BeautifulSoup:
    return BeautifulSoup((site.joinpath(*parts) / "index.html").read_text("utf-8"), "html.parser")


def seed_page(site: Path) -> BeautifulSoup:
    return page(site, "سوريا", "قوات-التحالف-تكثف-ضرباتها-في-دير-الزور")


def test_article_page_structure(small_site: Path):
    soup = seed_page(small_site)
    assert soup.html["lang"] == "ar" and soup.html["dir"] == "rtl"
    assert soup.h1.get_text() == "قوات التحالف تكثف ضرباتها في دير الزور"
    assert soup.select_one(".byline").get_text() == "خاص - SY24"
    assert soup.find("time")["datetime"] == "2024-10-08T10:00:00+03:00"
    assert soup.find("time").get_text() == "8 أكتوبر 2024"
    headings = soup.select(".body h2")
    assert len(headings) == 5
    toc_links = [a["href"] for a in soup.select(".toc a")]
    assert toc_links == ["#" + h["id"] for h in headings]
    for h in headings:
        assert soup.find(id=h["id"]) is h


def test_share_links_are_plain_and_encoded(small_site: Path):
    soup = seed_page(small_site)
    links = {a["class"][0]: a["href"] for a in soup.select(".share a")}
    assert set(links) == {
        f"share-{n}" for n in ("facebook", "whatsapp", "telegram", "x", "email", "copy")
    }
    url = "http://localhost:8000/سوريا/قوات-التحالف-تكثف-ضرباتها-في-دير-الزور/"
    fb = parse_qs(urlparse(links["share-facebook"]).query)
    assert unquote(fb["u"][0]) == url
    assert links["share-facebook"].isascii()  # percent-encoded, no raw Arabic in the href
    tg = parse_qs(urlparse(links["share-telegram"]).query)
    assert tg["text"] == ["قوات التحالف تكثف ضرباتها في دير الزور"]
    assert soup.find("script", src=lambda s: s and "facebook" in s) is None


def test_share_links_name_themselves_by_their_visible_text(small_site: Path):
    """WCAG 2.5.3: an aria-label only where it holds the visible text; otherwise the label
    is read after it. Other sites open in a new tab; mail and copy do not."""
    for a in seed_page(small_site).select(".share a"):
        text, label = a.find(string=True, recursive=False).strip(), a.get("aria-label")
        hidden = a.select_one(".vh")
        if label is not None:
            assert text in label.split() and hidden is None
        else:
            assert hidden is not None and hidden.get_text().startswith(" (")
        network = a["class"][0].removeprefix("share-")
        assert (a.get("target") == "_blank") == (network not in ("email", "copy")), network
    labelled = {a["class"][0] for a in seed_page(small_site).select(".share a[aria-label]")}
    assert labelled == {"share-facebook", "share-whatsapp", "share-telegram", "share-x"}


def test_related_block_shows_shared_entities(small_site: Path):
    soup = seed_page(small_site)
    items = soup.select(".related li")
    assert items, "the seed article should have related articles"
    first = items[0]
    assert first.a.get_text() == "غارات قرب الفرات"
    shared = first.select_one(".shared").get_text()
    assert "يشترك في" in shared and "دير الزور" in shared and "كونيكو" in shared


def test_entity_links_and_pages(small_site: Path):
    soup = seed_page(small_site)
    hrefs = [a["href"] for a in soup.select(".entities a")]
    assert "/entity/دير-الزور/" in hrefs
    ent = page(small_site, "entity", "دير-الزور")
    titles = [a.get_text() for a in ent.select(".card > a")]
    assert titles == ["غارات قرب الفرات", "قوات التحالف تكثف ضرباتها في دير الزور"]  # newest first
    assert page(small_site, "entity").select(".entity-index a")


def test_home_section_404_and_drafts(small_site: Path):
    home = page(small_site)
    titles = [a.get_text() for a in home.select(".card > a")]
    assert titles[0] == "غارات قرب الفرات"
    assert "مسودة" not in titles
    culture = page(small_site, "ثقافة")
    assert [a.get_text() for a in culture.select(".card > a")] == [
        "معرض للكتاب في القاهرة",
        "Festival notes",
    ]
    assert (small_site / "404.html").exists()
    assert (small_site / "static" / "style.css").exists()


def test_english_article_is_ltr(small_site: Path):
    soup = page(small_site, "ثقافة", "festival-notes")
    assert soup.html["lang"] == "en" and soup.html["dir"] == "ltr"


def test_base_url_with_sub_path(tmp_path: Path):
    content = make_content(tmp_path, {"seed.txt": SEED_FM + SEED.read_text(encoding="utf-8")})
    out = tmp_path / "site"
    build(
        load_config(None, content_dir=content, output_dir=out, base_url="https://example.org/news")
    )
    soup = seed_page(out)
    internal = [a["href"] for a in soup.find_all("a") if a["href"].startswith("/")]
    assert internal and all(h.startswith("/news/") for h in internal)
    assert soup.find("link", rel="stylesheet")["href"] == "/news/static/style.css"
    assert soup.find("link", rel="canonical")["href"].startswith("https://example.org/news/")


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def test_same_input_same_bytes(tmp_path: Path, sample_site: Path):
    again = tmp_path / "again"
    from .conftest import ROOT

    build(load_config(None, content_dir=ROOT / "content", output_dir=again))
    assert digest(again) == digest(sample_site)


def test_failed_build_keeps_previous_site(tmp_path: Path):
    content = make_content(tmp_path, {"seed.txt": SEED_FM + SEED.read_text(encoding="utf-8")})
    out = tmp_path / "site"
    build(load_config(None, content_dir=content, output_dir=out))
    before = digest(out)
    (content / "broken.md").write_text("---\ntitle: [\n---\n", encoding="utf-8")
    with pytest.raises(ContentError) as info:
        build(load_config(None, content_dir=content, output_dir=out))
    assert info.value.path == "broken.md"
    assert digest(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".sahifa-")]


def test_duplicate_explicit_slugs_fail(tmp_path: Path):
    content = make_content(
        tmp_path,
        {
            "a.md": md("أ", "2024-01-01T00:00:00Z", "s", "x\n", slug="same"),
            "b.md": md("ب", "2024-01-02T00:00:00Z", "s", "y\n", slug="same"),
        },
    )
    with pytest.raises(ContentError, match="already used by a.md"):
        build(load_config(None, content_dir=content, output_dir=tmp_path / "site"))


def test_same_titles_get_distinct_urls(tmp_path: Path):
    content = make_content(
        tmp_path,
        {
            "a.md": md("عنوان واحد", "2024-01-01T00:00:00Z", "s", "x\n"),
            "b.md": md("عنوان واحد", "2024-01-02T00:00:00Z", "s", "y\n"),
        },
    )
    out = tmp_path / "site"
    build(load_config(None, content_dir=content, output_dir=out))
    assert (out / "s" / "عنوان-واحد" / "index.html").exists()
    assert (out / "s" / "عنوان-واحد-2" / "index.html").exists()
