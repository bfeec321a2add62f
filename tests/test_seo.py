"""Head metadata: canonical, Open Graph, Twitter card and JSON-LD, parsed from the built pages."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pytest
from bs4 import BeautifulSoup

from sahifa.config import load_config
from sahifa.pipeline import build
from sahifa.seo import json_ld

from .conftest import make_content

BASE = "https://example.org/news/"
EVIL = "</script><script>alert(1)</script> & <!-- x"

FILES = {
    "a.md": "---\ntitle: غارات قرب الفرات في دير الزور\ndate: 2024-10-09T08:00:00+03:00\n"
            "updated: 2024-10-09T12:30:00+03:00\nsection: سوريا\nauthor: ليلى حداد\n"
            "summary: ملخص الخبر\nimage: /images/euphrates.jpg\ntags: [غارات, الفرات]\n"
            "entities: [دير الزور, دمشق]\n---\n"
            "شهدت دير الزور غارات جديدة قرب نهر الفرات.\n\nوفي دمشق قال مسؤول إن الوضع هادئ.\n",
    "b.md": "---\ntitle: " + json.dumps(EVIL) + "\ndate: 2024-10-01T08:00:00+00:00\n"
            "section: ثقافة\nsummary: " + json.dumps(EVIL) + "\n---\nنص عن القاهرة.\n",
}  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("seo")
    out = tmp / "site"
    build(load_config(None, content_dir=make_content(tmp, FILES), output_dir=out, base_url=BASE))
    return out


def soup(site: Path, *parts: str) -> BeautifulSoup:
    return BeautifulSoup((site.joinpath(*parts) / "index.html").read_text("utf-8"), "html.parser")


def props(page: BeautifulSoup) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for meta in page.head.find_all("meta"):
        key = meta.get("property") or meta.get("name")
        if key:
            out.setdefault(key, []).append(meta["content"])
    return out


def ld(page: BeautifulSoup) -> list[dict]:
    scripts = page.find_all("script", type="application/ld+json")
    assert len(scripts) == 1
    data = json.loads(scripts[0].string)
    items = data if isinstance(data, list) else [data]
    return [g for item in items for g in item.get("@graph", [item])]


def of_type(nodes: list[dict], type_: str) -> dict:
    return next(n for n in nodes if n["@type"] == type_)


def test_article_head(site: Path):
    page = soup(site, "سوريا", "غارات-قرب-الفرات-في-دير-الزور")
    url = BASE + "%D8%B3%D9%88%D8%B1%D9%8A%D8%A7/" + page_slug_encoded()
    assert {link["href"] for link in page.head.find_all("link", rel="canonical")} == {url}
    p = props(page)
    assert p["og:type"] == ["article"] and p["og:locale"] == ["ar_AR"]
    assert p["og:title"] == ["غارات قرب الفرات في دير الزور"] and p["og:url"] == [url]
    assert p["description"] == ["ملخص الخبر"] and p["og:description"] == ["ملخص الخبر"]
    assert p["article:published_time"] == ["2024-10-09T08:00:00+03:00"]
    assert p["article:modified_time"] == ["2024-10-09T12:30:00+03:00"]
    assert p["article:tag"] == ["غارات", "الفرات"]
    assert p["og:image"] == [BASE + "images/euphrates.jpg"]
    assert p["twitter:card"] == ["summary_large_image"]
    assert p["twitter:image"] == [BASE + "images/euphrates.jpg"]


def page_slug_encoded() -> str:
    from urllib.parse import quote

    return quote("غارات-قرب-الفرات-في-دير-الزور") + "/"


def test_article_json_ld(site: Path):
    nodes = ld(soup(site, "سوريا", "غارات-قرب-الفرات-في-دير-الزور"))
    art = of_type(nodes, "NewsArticle")
    assert art["headline"] == "غارات قرب الفرات في دير الزور"
    assert art["datePublished"] == "2024-10-09T08:00:00+03:00"
    assert art["dateModified"] == "2024-10-09T12:30:00+03:00"
    assert art["inLanguage"] == "ar"
    assert art["author"] == [{"@type": "Person", "name": "ليلى حداد"}]
    assert art["publisher"]["name"] == "صحيفة"
    assert art["image"] == [BASE + "images/euphrates.jpg"]
    about = {t["name"]: t for t in art.get("about", [])}
    mentions = {t["name"]: t for t in art.get("mentions", [])}
    assert "دير الزور" in about  # in the title
    assert "دمشق" in mentions and "دمشق" not in about  # not in the headline
    assert about["دير الزور"]["@type"] == "Place"
    assert unquote(about["دير الزور"]["url"]).startswith(BASE + "entity/")
    crumbs = of_type(nodes, "BreadcrumbList")["itemListElement"]
    assert [c["position"] for c in crumbs] == [1, 2, 3]
    assert crumbs[0]["item"] == BASE and crumbs[2]["name"] == art["headline"]


def test_script_end_tag_in_values_cannot_break_out(site: Path):
    page = soup(site, "ثقافة", "script-script-alert-1-script-x")  # the slug keeps only letters
    scripts = page.find_all("script", type="application/ld+json")
    assert len(scripts) == 1
    raw = scripts[0].string
    assert "<" not in raw and ">" not in raw
    art = of_type(ld(page), "NewsArticle")
    assert art["headline"] == EVIL and art["description"] == EVIL
    assert (
        page.find_all("script", string=lambda s: s and "alert(1)" in s and "@context" not in s)
        == []
    )
    assert props(page)["og:title"] == [EVIL]


def test_json_ld_escaping_round_trips():
    value = {"a": "</script>", "b": "x\u2028y", "c": "&amp;"}
    text = str(json_ld(value))
    assert "<" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == value


def test_listing_pages(site: Path):
    home = soup(site)
    nodes = ld(home)
    assert of_type(nodes, "WebSite")["potentialAction"]["@type"] == "SearchAction"
    assert props(home)["og:type"] == ["website"]
    assert home.head.find("link", rel="canonical")["href"] == BASE

    section = soup(site, "سوريا")
    nodes = ld(section)
    coll = of_type(nodes, "CollectionPage")
    assert coll["name"] == "سوريا"
    listed = [i["url"] for i in coll["mainEntity"]["itemListElement"]]
    assert listed and all(u.startswith(BASE) for u in listed)
    crumbs = of_type(nodes, "BreadcrumbList")["itemListElement"]
    assert [c["name"] for c in crumbs] == ["الرئيسية", "سوريا"]

    entity_pages = sorted(p.parent for p in (site / "entity").glob("*/index.html"))
    nodes = ld(BeautifulSoup((entity_pages[0] / "index.html").read_text("utf-8"), "html.parser"))
    assert [c["name"] for c in of_type(nodes, "BreadcrumbList")["itemListElement"]][:2] == [
        "الرئيسية",
        "الأعلام والأماكن",
    ]


def test_404_has_no_canonical(site: Path):
    page = BeautifulSoup((site / "404.html").read_text("utf-8"), "html.parser")
    assert page.head.find("link", rel="canonical") is None
    assert "robots" not in props(page)  # the 404 status keeps it out; noindex only costs SEO
    assert page.find_all("script", type="application/ld+json") == []
