"""The default theme: front page, archives, authors, article furniture, offline files, budget.

Pages are parsed with BeautifulSoup; the front-page logic is tested on its own Site objects.
"""

from __future__ import annotations

import gzip
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from sahifa import frontpage
from sahifa.config import load_config
from sahifa.model import Article, Entity, EntityRef, Site
from sahifa.pipeline import build

from .conftest import ROOT, make_content

THEME = ROOT / "templates"
BUDGET = 50 * 1024  # article page + CSS + JS, gzip-compressed
TZ = timezone(timedelta(hours=3))


def md(title: str, date: str, section: str, body: str = "نص الخبر.\n", **extra: str) -> str:
    lines = [f"title: {title}", f"date: {date}", f"section: {section}"]
    lines += [f"{k}: {v}" for k, v in extra.items()]
    return "---\n" + "\n".join(lines) + "\n---\n" + body


def page(site: Path, *parts: str) -> BeautifulSoup:
    return BeautifulSoup((site.joinpath(*parts) / "index.html").read_text("utf-8"), "html.parser")


def card_titles(soup: BeautifulSoup) -> list[str]:
    return [a.get_text() for a in soup.select(".card > a")]


@pytest.fixture(scope="module")
def news_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("theme")
    content = make_content(
        tmp,
        {
            "a.md": md("غارات قرب دير الزور", "2025-03-18T10:00:00+03:00", "سوريا",
                       "قصفت طائرات مواقع في دير الزور ثم في دير الزور مجددًا.\n",
                       author="ليلى حداد"),
            "b.md": md("معرض الكتاب في بيروت", "2025-03-10T10:00:00+03:00", "ثقافة",
                       "افتتح معرض في بيروت.\n", author="جاد خوري"),
            "c.md": md("تقرير عن حلب", "2025-02-01T10:00:00+03:00", "سوريا",
                       "زار وفد مدينة حلب.\n", author="ليلى حداد", featured="true"),
            "d.md": md("أمطار في دمشق", "2024-12-05T10:00:00+03:00", "سوريا",
                       " ".join(["كلمة"] * 700) + "\n"),
        },
    )  # fmt: skip
    out = tmp / "site"
    build(load_config(None, content_dir=content, output_dir=out))
    return out


# --- the front page ----------------------------------------------------------------------------


def test_front_page_lead_latest_sections_and_news(news_site: Path):
    home = page(news_site)
    lead = home.select_one(".lead-story .card > a")
    assert lead.get_text() == "تقرير عن حلب"  # featured wins over newer stories
    assert card_titles(home) == [
        "تقرير عن حلب",
        "غارات قرب دير الزور",
        "معرض الكتاب في بيروت",
        "أمطار في دمشق",
    ]
    blocks = {
        b.select_one(".block-title").get_text(strip=True): [
            a.get_text() for a in b.select("li > a")
        ]
        for b in home.select(".section-block")
    }
    assert blocks == {"ثقافة": ["معرض الكتاب في بيروت"], "سوريا": ["غارات قرب دير الزور", "أمطار في دمشق"]}  # fmt: skip
    news = home.select_one(".in-the-news")
    assert news.h2.get_text() == "في الأخبار"
    links = {a.get_text(): a["href"] for a in news.select("a")}
    assert links["دير الزور"] == "/entity/دير-الزور/"
    assert (news_site / "entity" / "دير-الزور" / "index.html").exists()


def art(source: str, day: int, *names: str, featured: bool = False) -> Article:
    return Article(
        source=source, title=source, slug=source, section="أخبار", body_html="", text="",
        date=datetime(2025, 3, day, 9, tzinfo=TZ), featured=featured,
        entities=tuple(EntityRef(n, "place", count=2 if n == "حلب" else 1) for n in names),
    )  # fmt: skip


def test_in_the_news_counts_from_newest_article_not_the_clock():
    arts = (
        art("e", 30, "حلب", "دمشق"),
        art("d", 29, "حلب"),
        art("c", 28, "بيروت", "دمشق"),
        art("b", 27, "بيروت"),
        art("a", 1, "بغداد", "بغداد2"),  # four weeks older: outside the window
    )
    names = {"حلب", "دمشق", "بيروت", "بغداد", "بغداد2"}
    site = Site(articles=arts, entities={n: Entity(n, "place", n) for n in names})
    news, since = frontpage.in_the_news(site, days=7)
    # حلب: two articles, four mentions; بيروت and دمشق: two and two, then by name
    assert [t.entity.name for t in news] == ["حلب", "بيروت", "دمشق"]
    assert since == datetime(2025, 3, 23, 9, tzinfo=TZ)
    quiet = Site(articles=(arts[0], arts[4]), entities=site.entities)
    wide, _ = frontpage.in_the_news(quiet, days=7)  # a quiet week widens to the newest stories
    assert {t.entity.name for t in wide} == {"حلب", "دمشق", "بغداد", "بغداد2"}


def test_lead_is_newest_without_featured():
    arts = (art("b", 2), art("a", 1))
    assert frontpage.pick_lead(arts) is arts[0]
    assert frontpage.pick_lead((art("b", 2), art("a", 1, featured=True))).source == "a"
    assert frontpage.pick_lead(()) is None


def test_home_page_two_is_a_plain_list(tmp_path: Path):
    files = {
        f"{i}.md": md(f"خبر رقم {i}", f"2025-01-{i + 1:02d}T10:00:00+00:00", "أخبار")
        for i in range(5)
    }
    out = tmp_path / "site"
    build(load_config(None, content_dir=make_content(tmp_path, files), output_dir=out, per_page=2))
    first, second = page(out), page(out, "page", "2")
    assert card_titles(first) == ["خبر رقم 4", "خبر رقم 3"]
    assert first.select_one(".pagination a[rel=next]")["href"] == "/page/2/"
    assert second.select_one(".lead-story") is None and second.select_one(".in-the-news") is None
    # Older pages are cut from the oldest end (pages.paginate): page 2 has what is left over.
    assert card_titles(second) == ["خبر رقم 2"]
    third = page(out, "page", "3")
    assert card_titles(third) == ["خبر رقم 1", "خبر رقم 0"]
    assert third.select_one(".pagination a[rel=prev]")["href"] == "/page/2/"


# --- archives and authors ----------------------------------------------------------------------


def test_archive_by_year_and_month(news_site: Path):
    index = page(news_site, "archive")
    years = [a["href"] for a in index.select(".archive-year h2 a")]
    assert years == ["/archive/2025/", "/archive/2024/"]
    year = page(news_site, "archive", "2025")
    assert [a["href"] for a in year.select(".archive-months a")] == [
        "/archive/2025/03/",
        "/archive/2025/02/",
    ]
    assert card_titles(year) == ["غارات قرب دير الزور", "معرض الكتاب في بيروت", "تقرير عن حلب"]
    march = page(news_site, "archive", "2025", "03")
    assert march.h1.get_text(strip=True) == "أرشيف مارس 2025"
    assert card_titles(march) == ["غارات قرب دير الزور", "معرض الكتاب في بيروت"]
    crumbs = [a["href"] for a in march.select(".breadcrumb a")]
    assert crumbs == ["/archive/", "/archive/2025/"]


def test_author_pages_and_links(news_site: Path):
    author = page(news_site, "author", "ليلى-حداد")
    assert author.h1.get_text(strip=True) == "ليلى حداد"
    assert card_titles(author) == ["غارات قرب دير الزور", "تقرير عن حلب"]
    article = page(news_site, "سوريا", "غارات-قرب-دير-الزور")
    assert article.select_one(".meta .author a")["href"] == "/author/ليلى-حداد/"
    assert article.select_one(".meta .date")["href"] == "/archive/2025/03/"
    no_author = page(news_site, "سوريا", "أمطار-في-دمشق")
    assert no_author.select_one(".meta .author") is None


# --- the article page --------------------------------------------------------------------------


def test_article_furniture(news_site: Path):
    soup = page(news_site, "سوريا", "غارات-قرب-دير-الزور")
    crumbs = [(a.get_text(), a["href"]) for a in soup.select(".breadcrumb a")]
    assert crumbs == [("الرئيسية", "/"), ("سوريا", "/سوريا/")]
    assert soup.select_one(".reading-time").get_text() == "قراءة في دقيقة واحدة"
    nav = soup.select_one(".prev-next")
    assert nav.select_one("a[rel=prev]")["href"] == "/سوريا/تقرير-عن-حلب/"  # older, same section
    assert nav.select_one("a[rel=next]") is None  # the newest in its section
    middle = page(news_site, "سوريا", "تقرير-عن-حلب").select_one(".prev-next")
    assert middle.select_one("a[rel=next]")["href"] == "/سوريا/غارات-قرب-دير-الزور/"
    assert middle.select_one("a[rel=prev]")["href"] == "/سوريا/أمطار-في-دمشق/"
    sizes = [b["data-size-step"] for b in soup.select(".text-size button")]
    assert sizes == ["-1", "0", "1"]
    current = soup.select_one(".sections a[aria-current=page]")
    assert current.get_text() == "سوريا"
    long = page(news_site, "سوريا", "أمطار-في-دمشق")
    assert long.select_one(".reading-time").get_text() == "قراءة في 4 دقائق"


@pytest.mark.parametrize(
    ("minutes", "label"),
    [(1, "دقيقة واحدة"), (2, "دقيقتان"), (3, "3 دقائق"), (10, "10 دقائق"), (11, "11 دقيقة"),
     (103, "103 دقائق")],
)  # fmt: skip
def test_reading_label_agrees_with_the_number(minutes: int, label: str):
    assert frontpage.reading_label(minutes) == "قراءة في " + label
    assert frontpage.reading_label(3, "arabic-indic") == "قراءة في ٣ دقائق"


def test_header_search_skip_link_and_no_flash(news_site: Path):
    soup = page(news_site)
    form = soup.select_one("header form[role=search]")
    assert form["action"] == "/search/" and form.find("input", attrs={"name": "q"})
    skip = soup.select_one("a.skip")
    assert soup.find(id=skip["href"][1:]).name == "main"
    head = soup.head
    script = head.find("script", src=False)
    assert "sahifa-theme" in script.string and "dataset.theme" in script.string
    stylesheet = head.find("link", rel="stylesheet")
    assert head.contents.index(script) < head.contents.index(stylesheet)  # before first paint
    assert soup.select_one("[data-theme-toggle]")["aria-pressed"] == "false"
    assert "sahifa-preview" in (THEME / "static" / "sahifa.js").read_text("utf-8")


# --- offline, customisation ---------------------------------------------------------------------


def test_offline_files_scoped_to_base_path(tmp_path: Path):
    content = make_content(tmp_path, {"a.md": md("خبر", "2025-01-01T10:00:00+00:00", "أخبار")})
    out = tmp_path / "site"
    build(load_config(None, content_dir=content, output_dir=out, base_url="https://ex.org/news/"))
    soup = page(out)
    assert soup.html["data-sw"] == "/news/sw.js" and soup.html["data-scope"] == "/news/"
    assert soup.find("link", rel="manifest")["href"] == "/news/manifest.webmanifest"
    sw = (out / "sw.js").read_text("utf-8")
    assert 'const SCOPE = "/news/";' in sw
    import json

    manifest = json.loads((out / "manifest.webmanifest").read_text("utf-8"))
    assert manifest["start_url"] == manifest["scope"] == "/news/"
    assert manifest["dir"] == "rtl" and manifest["lang"] == "ar"


def test_offline_can_be_turned_off(tmp_path: Path):
    content = make_content(tmp_path, {"a.md": md("خبر", "2025-01-01T10:00:00+00:00", "أخبار")})
    (tmp_path / "site.toml").write_text("offline = false\n", encoding="utf-8")
    out = tmp_path / "site"
    build(load_config(tmp_path / "site.toml", content_dir=content, output_dir=out))
    soup = page(out)
    assert not soup.html.has_attr("data-sw")
    assert soup.find("link", rel="manifest") is None
    assert not (out / "sw.js").exists()


def test_custom_css_only_when_the_site_has_one(tmp_path: Path):
    content = make_content(tmp_path, {"a.md": md("خبر", "2025-01-01T10:00:00+00:00", "أخبار")})
    out = tmp_path / "site"
    build(load_config(None, content_dir=content, output_dir=out))
    sheets = [link["href"] for link in page(out).find_all("link", rel="stylesheet")]
    assert sheets == ["/static/style.css"]

    own = tmp_path / "mytheme"
    (own / "static").mkdir(parents=True)
    (own / "static" / "custom.css").write_text(":root { --accent: #064e3b; }\n", "utf-8")
    (own / "footer.html").write_text('<footer class="site-footer">تذييل خاص</footer>\n', "utf-8")
    config = load_config(
        None,
        content_dir=content,
        output_dir=out,
        templates_dir=own,
        extra_css=("/static/print-extra.css",),
    )
    build(config)
    soup = page(out)
    sheets = [link["href"] for link in soup.find_all("link", rel="stylesheet")]
    assert sheets == ["/static/style.css", "/static/custom.css", "/static/print-extra.css"]
    assert (out / "static" / "custom.css").exists()
    assert soup.select_one(".site-footer").get_text(strip=True) == "تذييل خاص"
    assert soup.select_one(".masthead")  # the rest of the theme is still the default


# --- CSS rules and the performance budget ------------------------------------------------------


def test_css_uses_logical_properties_only():
    css = (THEME / "static" / "style.css").read_text("utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r"@media[^{]*", "", css)  # (min-width: 48rem) queries are about the viewport
    physical = re.findall(
        r"(?<![\w-])(?:margin|padding|border|inset)-(?:left|right|top|bottom)\b"
        r"|(?<![\w-])(?:left|right|top|bottom)\s*:"
        r"|text-align\s*:\s*(?:left|right)|float\s*:\s*(?:left|right)"
        r"|(?<![\w-])(?:width|height|min-width|max-width|min-height|max-height)\s*:",
        css,
    )
    assert physical == []
    gradients = re.findall(r"linear-gradient\(to (?:left|right)", css)
    assert len(gradients) == len(re.findall(r":dir\((?:rtl|ltr)\)[^{]*\{[^}]*linear-gradient", css))
    assert "letter-spacing: normal" in css and "text-transform" not in css
    assert "text-align: justify" not in css


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def article_weight(site: Path, rel: str) -> dict[str, int]:
    """Gzipped bytes of an article page and every local CSS/JS file it loads."""
    html = (site / rel / "index.html").read_bytes()
    soup = BeautifulSoup(html, "html.parser")
    sizes = {"html": gz(html)}
    refs = [link["href"] for link in soup.find_all("link", rel="stylesheet")]
    refs += [s["src"] for s in soup.find_all("script", src=True)]
    for ref in refs:
        assert ref.startswith("/"), f"third-party or relative asset: {ref}"
        sizes[ref] = gz((site / ref.lstrip("/")).read_bytes())
    return sizes


def test_article_page_within_budget(sample_site: Path):
    articles = [p.parent for p in sample_site.glob("*/*/index.html") if p.parent.parent.name not in
                ("entity", "archive", "author", "page", "search")]  # fmt: skip
    assert articles
    heaviest = max(
        (article_weight(sample_site, str(a.relative_to(sample_site))) for a in articles),
        key=lambda s: sum(s.values()),
    )
    assert sum(heaviest.values()) < BUDGET, heaviest


def test_no_render_blocking_third_party(sample_site: Path):
    for path in (sample_site / "index.html", *sample_site.glob("*/*/index.html")):
        head = BeautifulSoup(path.read_text("utf-8"), "html.parser").head
        for tag in head.find_all(["link", "script"]):
            ref = tag.get("href") or tag.get("src") or ""
            if tag.name == "link" and "stylesheet" not in tag.get("rel", []):
                continue
            assert not re.match(r"^(https?:)?//", ref), f"{path}: {ref}"


def test_standfirst_skips_a_summary_cut_from_the_body():
    text = "العنوان\nاستمرت الغارات على ريف دير الزور لليوم السابع على التوالي."
    cut = Article("a.txt", "العنوان", "a", "أخبار", "", text, summary="استمرت الغارات على ريف…")
    assert frontpage.standfirst(cut) == ""
    own = Article("b.md", "العنوان", "b", "أخبار", "", text, summary="سبعة أيام من القصف.")
    assert frontpage.standfirst(own) == "سبعة أيام من القصف."
