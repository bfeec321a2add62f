"""Pagefind search: indexed only here, on a four-article site (the rest of the suite runs with
SAHIFA_SEARCH=0), byte-identical across builds, Arabic-folded, filterable by section."""

from __future__ import annotations

import functools
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup

from sahifa import search
from sahifa.arabic import normalize
from sahifa.config import SEARCH_SWITCH, load_config
from sahifa.pipeline import build

from .conftest import make_content

FILES = {
    "a.md": "---\ntitle: زيارة رسمية إلى الإمارات\ndate: 2025-01-02T10:00:00+04:00\nsection: سياسة\n"
            "---\nوصل الوفد إلى دولة الإمارات العربية المتحدة صباح اليوم في زيارة تستمر يومين.\n",
    "b.md": "---\ntitle: افتتاح مدرسة جديدة في حلب\ndate: 2025-01-01T10:00:00+03:00\nsection: تعليم\n"
            "---\nافتُتِحَت المدرسة الجديدة في حلب بحضور الأهالي.\n",
    "c.md": "---\ntitle: مباراة الإمارات والسعودية\ndate: 2024-12-30T10:00:00+03:00\nsection: رياضة\n"
            "---\nفاز منتخب الإمارات على السعودية في مباراة ودية.\n",
    "d.md": "---\ntitle: مسؤول في مستشفى دمشق\ndate: 2025-01-03T10:00:00+03:00\nsection: صحة\n"
            "---\nقال مسؤول في مستشفى المواساة إن القسم سيتوسع.\n",
}  # fmt: skip

needs_pagefind = pytest.mark.skipif(not search.available(), reason="pagefind[bin] not installed")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The tiny site built twice with the search index (the only Pagefind runs of the suite),
    and once more split into bundles as a large site's index is (one article a bundle)."""
    if not search.available():
        pytest.skip("pagefind[bin] not installed")
    tmp = tmp_path_factory.mktemp("search")
    content = make_content(tmp, FILES)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SEARCH_SWITCH, "1")
        outs = []
        for name in ("one", "two", "split"):
            if name == "split":
                mp.setattr(search, "SHARD_ARTICLES", 1)
            out = tmp / name
            build(load_config(None, content_dir=content, output_dir=out))
            outs.append(out)
    return outs[0], outs[1], outs[2]


def test_record_is_folded_but_shows_the_original():
    from sahifa.model import Article

    art = Article(source="a.md", title="الإمارات", slug="x", section="سياسة", body_html="",
                  text="الإمارات\nافتُتِحَت مدرسةٌ على ضفة", summary="ملخص", path="/سياسة/x/")  # fmt: skip
    rec = search.record(art, load_config(None, base_url="https://ex.org/news/"))
    assert rec["url"] == "/news/سياسة/x/"
    assert rec["content"] == "الامارات افتتحت مدرسه علي ضفه"
    assert rec["meta"] == {"title": "الإمارات", "section": "سياسة", "summary": "ملخص"}
    assert rec["filters"] == {"section": ["سياسة"]} and rec["language"] == "ar"


def test_filter_values_are_sorted_without_reencoding():
    def text(s: str) -> bytes:
        b = s.encode()
        return bytes([0x60 | len(b)]) + b

    def entry(value: str, pages: list[int]) -> bytes:
        return b"\x82" + text(value) + bytes([0x80 | len(pages)]) + bytes(pages)

    head = b"\x82" + text("section") + b"\x83"
    shuffled = head + entry("s2", [2, 5]) + entry("s0", [0, 3, 6]) + entry("s1", [1])
    ordered = head + entry("s0", [0, 3, 6]) + entry("s1", [1]) + entry("s2", [2, 5])
    assert search._sorted_filter(shuffled) == ordered
    assert search._sorted_filter(ordered) == ordered


def test_switched_off_builds_no_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(SEARCH_SWITCH, "0")
    out = tmp_path / "site"
    build(load_config(None, content_dir=make_content(tmp_path, FILES), output_dir=out))
    assert not (out / "pagefind").exists()
    page = BeautifulSoup((out / "search" / "index.html").read_text("utf-8"), "html.parser")
    assert page.find("script", type="module")["src"] == "/search/search.js"
    assert (out / "search" / "search.js").is_file()
    options = [
        o["value"] for o in page.select("form[data-search-form] select[name=section] option")
    ]
    assert options[0] == "" and sorted(options[1:]) == ["تعليم", "رياضة", "سياسة", "صحة"]


@needs_pagefind
def test_index_is_complete_and_byte_identical(indexed: tuple[Path, Path, Path]):
    one, two, _ = indexed
    entry = json.loads((one / "pagefind" / "pagefind-entry.json").read_text("utf-8"))
    assert entry["languages"]["ar"]["page_count"] == len(FILES)
    files_one = sorted(p.relative_to(one) for p in (one / "pagefind").rglob("*") if p.is_file())
    files_two = sorted(p.relative_to(two) for p in (two / "pagefind").rglob("*") if p.is_file())
    assert files_one == files_two
    for rel in files_one:
        assert (one / rel).read_bytes() == (two / rel).read_bytes(), rel


@pytest.fixture(scope="module", params=["one bundle", "split"])
def served(request: pytest.FixtureRequest, indexed: tuple[Path, Path, Path]) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    root = indexed[0] if request.param == "one bundle" else indexed[2]
    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@needs_pagefind
def test_a_large_index_is_split_into_bundles_by_source(indexed: tuple[Path, Path, Path]):
    """Four bundles of one article each (every page in exactly one), merged by the page."""
    split = indexed[2]
    bundles = sorted(p.name for p in split.iterdir() if p.name.startswith("pagefind"))
    assert len(bundles) >= 2 and bundles[0] == "pagefind"
    counts = [
        json.loads((split / b / "pagefind-entry.json").read_text("utf-8"))["languages"]["ar"][
            "page_count"
        ]
        for b in bundles
    ]
    assert sum(counts) == len(FILES)
    form = BeautifulSoup((split / "search" / "index.html").read_text("utf-8"), "html.parser")
    form = form.select_one("form[data-search-form]")
    assert form["data-bundle"] == "/pagefind/"
    assert form["data-merge"].split() == [f"/{b}/" for b in bundles[1:]]
    assert not (indexed[0] / "pagefind-01").exists()  # a small site keeps one bundle


def _results(page, url: str) -> list[str]:
    page.goto(url)
    page.wait_for_function(
        "(() => { const s = document.querySelector('[data-search-status]').textContent;"
        " return s && !s.startsWith('جار'); })()"
    )
    return page.eval_on_selector_all(
        "[data-search-results] a", "els => els.map(e => e.textContent)"
    )


@pytest.mark.browser
@needs_pagefind
def test_search_page_finds_folded_spellings(browser, served: str):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    both = {"زيارة رسمية إلى الإمارات", "مباراة الإمارات والسعودية"}
    for query in ("الإمارات", "الامارات", "الأمارات"):
        assert set(_results(page, f"{served}/search/?q={quote(query)}")) == both, query
    sport = _results(page, f"{served}/search/?q={quote('الامارات')}&section={quote('رياضة')}")
    assert sport == ["مباراة الإمارات والسعودية"]
    for query in ("مدرسه", "مَدرسة", "افتتحت"):
        assert _results(page, f"{served}/search/?q={quote(query)}") == ["افتتاح مدرسة جديدة في حلب"]
    assert _results(page, f"{served}/search/?q={quote('مستشفي')}") == ["مسؤول في مستشفى دمشق"]
    assert page.inner_text("[data-search-status]") == "النتائج: 1"
    samples = ["الإمارات", "مُحَمَّد", "مستشفى", "مدرسة", "آذار ٢٠٢٤", "  Beirut   Port ", "مسؤول"]
    folded = page.evaluate(
        "async (xs) => { const m = await import('/search/search.js'); return xs.map(m.fold); }",
        samples,
    )
    assert folded == [normalize(s) for s in samples]
    assert errors == []
    page.close()


def test_a_new_pagefind_version_remakes_every_bundle(monkeypatch):
    """The search page merges the bundles, which needs one Pagefind version for all: the
    version is in every bundle's key, so an upgrade remakes them all, not only edited ones."""
    assert search.pagefind_version()  # installed with the project
    stamps = ["d1|/a/", "d2|/b/"]
    before = search.bundle_key("pagefind", stamps)
    assert search.bundle_key("pagefind", reversed(stamps)) == before
    monkeypatch.setattr(search, "pagefind_version", lambda: "9.9.9")
    assert search.bundle_key("pagefind", stamps) != before


@pytest.mark.browser
@needs_pagefind
@pytest.mark.parametrize("which", [0, 2], ids=["one bundle", "split"])
def test_the_index_starts_loading_when_the_reader_goes_to_type(browser, indexed, which: int):
    # Not on opening the page (a reader may only look), but on focusing the box: the bundles'
    # merge round trips then happen while the query is typed, not after Enter. Pagefind
    # fetches from a worker, so the server's own log says what was asked for.
    asked: list[str] = []

    class Logged(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            asked.append(self.path)

    handler = functools.partial(Logged, directory=str(indexed[which]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = browser.new_page()
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/search/")
        page.wait_for_load_state("networkidle")
        assert not [p for p in asked if "pagefind" in p]
        merged = (page.get_attribute("form[data-search-form]", "data-merge") or "").split()
        page.focus("#search-q")
        wanted = [
            f"{b}{f}" for b in ["/pagefind/", *merged] for f in ("pagefind-entry", "pagefind.ar_")
        ]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(
            any(p.startswith(w) for p in asked) for w in wanted
        ):
            page.wait_for_timeout(50)
        assert all(any(p.startswith(w) for p in asked) for w in wanted), (wanted, asked)
        page.fill("#search-q", "الامارات")
        page.press("#search-q", "Enter")
        page.wait_for_function(
            "document.querySelector('[data-search-status]').textContent.startsWith('النتائج')"
        )
        assert page.inner_text("[data-search-status]") == "النتائج: 2"
    finally:
        page.close()
        server.shutdown()
