"""Search: Sahifa's own static index (`sahifa/search.py`) and the page that reads it. Indexed
only here and in one quick-edit test, on a four-article site (the rest of the suite runs with
SAHIFA_SEARCH=0): byte-identical across builds, Arabic-folded, filterable by section."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import threading
import time
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup

from sahifa import search
from sahifa.arabic import normalize, query_term, search_terms, token_columns
from sahifa.config import SEARCH_SWITCH, load_config
from sahifa.model import Article
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
    "e.md": "---\ntitle: سباق في دبي\ndate: 2024-12-29T10:00:00+04:00\nsection: رياضة\n---\n"
            "انطلق السباق على حلبة دبي، وتُقام مباراة الغد في الملعب نفسه.\n",
}  # fmt: skip


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The tiny site built twice with the search index, and once more split into shards as
    a large site's index is (one article a shard)."""
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


def lookup(shard: Path, term: str) -> dict[int, int]:
    """What the page does for one whole term: find its chunk in meta.json, read it there."""
    meta = json.loads((shard / "meta.json").read_text("utf-8"))
    found: dict[int, int] = {}
    for first, last, name in meta["chunks"]:
        if first <= term <= last:
            postings = json.loads((shard / "c" / f"{name}.json").read_text("utf-8"))
            flat = postings.get(term, [])
            found.update(zip(accumulate(flat[::2]), flat[1::2], strict=True))  # gaps
    return found


@contextlib.contextmanager
def serving(root: Path, asked: list[str] | None = None) -> Iterator[str]:
    """A local HTTP server on `root` (its base URL); the paths asked for go into `asked`."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            if asked is not None:
                asked.append(self.path)

    handler = functools.partial(Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_a_word_is_filed_under_its_bases_and_a_query_word_drops_the_article():
    assert search_terms("وبالعراق") == ("وبالعراق", "بالعراق", "العراق", "عراق")
    assert search_terms("للامارات") == ("للامارات", "الامارات", "لامارات", "امارات")
    assert search_terms("وزير") == ("وزير", "زير")  # a query for وزير looks up وزير itself
    assert search_terms("في") == ("في",)
    assert query_term("الامارات") == "امارات" and query_term("الم") == "الم"
    assert query_term("وزير") == "وزير"
    # every spelling a reader may type reaches a term the article is filed under
    filed = set(search_terms("والإمارات".replace("إ", "ا")))
    assert {query_term(w) for w in ("الامارات", "امارات", "والامارات")} <= filed


def test_record_keeps_what_a_result_shows():
    from datetime import datetime

    art = Article(source="a.md", title="الإمارات", slug="x", section="سياسة", body_html="",
                  text="الإمارات\nافتُتِحَت مدرسةٌ", summary="ملخص", path="/سياسة/x/",
                  date=datetime(2024, 8, 6, 9, 30))  # fmt: skip
    rec = search.record(art, load_config(None, base_url="https://ex.org/news/"))
    assert rec == {"url": "/news/سياسة/x/", "title": "الإمارات", "section": "سياسة",
                   "date": "2024-08-06", "when": "6 أغسطس 2024", "summary": "ملخص",
                   "text": "الإمارات\nافتُتِحَت مدرسةٌ"}  # fmt: skip


def test_weights_count_the_title_three_times_and_every_base():
    weights, length = search.term_weights("المدرسة في حلب. مدرسة ثانية ـ", "المدرسة")
    assert length == 6 and "" not in weights  # a lone tatweel is a token of nothing
    # المدرسة: 1 in the text + 2 more for the title; مدرسه: its own 1 + المدرسة's 3
    assert weights["المدرسه"] == 3 and weights["مدرسه"] == 4 and weights["حلب"] == 1


def test_weights_are_every_word_added_to_each_of_its_terms():
    """term_weights skips the words without a proclitic; the definition does not."""
    from collections import Counter

    from .conftest import SEED

    text = SEED.read_text("utf-8")
    title = text.splitlines()[0]
    counts = Counter(token_columns(text)[2]) + Counter(token_columns(title)[2] * 2)
    expected: Counter[str] = Counter()
    for word, count in counts.items():
        for term in search_terms(word):
            expected[term] += count
    weights, length = search.term_weights(text, title)
    assert weights == dict(expected) and length == len(token_columns(text)[2])
    assert any(len(search_terms(w)) > 1 for w in counts)  # the seed has clitics to add


def test_terms_counted_from_the_split_text_and_packed_are_the_same():
    """The build counts an article's terms from the tokens it split for entities and caches
    them packed: the same weights as counting from the text."""
    from .conftest import SEED

    text = SEED.read_text("utf-8")
    title = text.splitlines()[0]
    weights, length = search.term_weights(text, title)
    assert search.term_weights(text, title, token_columns(text)[2]) == (weights, length)
    packed = search.pack_terms(weights, length)
    assert search.unpack_terms(packed) == (length, list(weights), list(weights.values()))
    assert search.unpack_terms(search.pack_terms({}, 0)) == (0, [], [])  # a text of no words


def test_a_shard_from_packed_terms_is_the_shard_from_text(monkeypatch):
    monkeypatch.setattr(search, "CHUNK_BYTES", 200)
    recs = records(40)
    packed = []
    for rec in recs:
        terms = search.pack_terms(*search.term_weights(rec["text"], rec["title"]))
        packed.append({**{k: v for k, v in rec.items() if k != "text"}, "terms": terms})
    mixed = packed[::2] + recs[1::2]
    made = search.bundle_files(recs, "index-00")
    assert search.bundle_files(packed, "index-00") == made == search.bundle_files(mixed, "index-00")


def records(n: int) -> list[dict[str, str]]:
    return [
        {"url": f"/s/{i}/", "title": f"خبر {i}", "section": "أ" if i % 2 else "ب",
         "date": f"2025-01-{1 + i % 28:02d}", "when": "", "summary": "",
         "text": f"خبر {i} كلمة{i} مشترك"}
        for i in range(n)
    ]  # fmt: skip


def test_a_shard_is_the_same_bytes_in_any_order_and_every_term_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(search, "CHUNK_BYTES", 200)  # many chunks
    recs = records(60)
    files = search.bundle_files(recs, "index-03")
    assert files == search.bundle_files(list(reversed(recs)), "index-03")
    for path, data in files:
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    shard = tmp_path / "search" / "index-03"
    meta = json.loads((shard / "meta.json").read_text("utf-8"))
    assert meta["docs"] == 60 and len(meta["len"]) == len(meta["day"]) == len(meta["sec"]) == 60
    assert len(meta["chunks"]) > 5
    bounds = [term for first, last, _ in meta["chunks"] for term in (first, last)]
    assert bounds == sorted(bounds)  # chunks in term order, not overlapping
    assert len(list((shard / "c").iterdir())) == len(meta["chunks"])
    order = [json.loads((shard / "f" / f"{i}.json").read_text("utf-8")) for i in range(60)]
    assert [d["date"] for d in order] == sorted(d["date"] for d in order)  # oldest first
    days = list(accumulate(meta["day"]))  # stored as gaps
    assert days == [search._day(d["date"]) for d in order] and max(meta["day"][1:]) <= 1
    for i, doc in enumerate(order):
        n = int(doc["url"].split("/")[2])
        assert lookup(shard, f"كلمه{n}") == {i: 1}
        assert meta["sections"][meta["sec"][i]] == recs[n]["section"]
    assert lookup(shard, "مشترك") == {i: 1 for i in range(60)}
    assert lookup(shard, "خبر") == {i: 3 for i in range(60)}  # text once, title twice more


def test_switched_off_builds_no_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(SEARCH_SWITCH, "0")
    out = tmp_path / "site"
    build(load_config(None, content_dir=make_content(tmp_path, FILES), output_dir=out))
    assert sorted(p.name for p in (out / "search").iterdir()) == ["index.html", "search.js"]
    page = BeautifulSoup((out / "search" / "index.html").read_text("utf-8"), "html.parser")
    assert page.find("script", type="module")["src"] == "/search/search.js"
    assert page.select_one("form[data-search-form]")["data-index"] == ""
    options = [
        o["value"] for o in page.select("form[data-search-form] select[name=section] option")
    ]
    assert options[0] == "" and sorted(options[1:]) == ["تعليم", "رياضة", "سياسة", "صحة"]


def test_index_is_complete_and_byte_identical(indexed: tuple[Path, Path, Path]):
    one, two, _ = indexed
    meta = json.loads((one / "search" / "index-00" / "meta.json").read_text("utf-8"))
    assert meta["docs"] == len(FILES) and meta["format"] == search.FORMAT
    files_one = sorted(p.relative_to(one) for p in (one / "search").rglob("*") if p.is_file())
    files_two = sorted(p.relative_to(two) for p in (two / "search").rglob("*") if p.is_file())
    assert files_one == files_two
    for rel in files_one:
        assert (one / rel).read_bytes() == (two / rel).read_bytes(), rel
    shown = [json.loads((one / "search/index-00/f" / f"{i}.json").read_bytes()) for i in range(5)]
    assert [d["title"] for d in shown] == [  # oldest first
        "سباق في دبي", "مباراة الإمارات والسعودية", "افتتاح مدرسة جديدة في حلب", "زيارة رسمية إلى الإمارات",
        "مسؤول في مستشفى دمشق"]  # fmt: skip
    assert shown[1]["url"].startswith("/رياضة/") and shown[1]["date"] == "2024-12-30"
    assert set(lookup(one / "search" / "index-00", "امارات")) == {1, 3}


def test_a_large_index_is_split_into_shards_by_source(indexed: tuple[Path, Path, Path]):
    """Four shards by source path (every article in exactly one; an empty one is left out),
    read together."""
    split = indexed[2]
    shards = sorted(p.name for p in (split / "search").iterdir() if p.name.startswith("index-"))
    assert len(shards) >= 2 and set(shards) <= {f"index-0{i}" for i in range(4)}
    metas = [json.loads((split / "search" / s / "meta.json").read_bytes()) for s in shards]
    assert sum(m["docs"] for m in metas) == len(FILES) and all(m["docs"] for m in metas)
    form = BeautifulSoup((split / "search" / "index.html").read_text("utf-8"), "html.parser")
    form = form.select_one("form[data-search-form]")
    assert form["data-index"].split() == [f"/search/{s}/" for s in shards]
    assert not (indexed[0] / "search" / "index-01").exists()  # a small site keeps one shard


def test_a_new_index_format_remakes_every_shard(monkeypatch):
    stamps = ["d1|/a/", "d2|/b/"]
    before = search.bundle_key("index-00", stamps)
    assert search.bundle_key("index-00", reversed(stamps)) == before
    monkeypatch.setattr(search, "FORMAT", search.FORMAT + 1)
    assert search.bundle_key("index-00", stamps) != before


@pytest.fixture(scope="module", params=["one shard", "split"])
def served(request: pytest.FixtureRequest, indexed: tuple[Path, Path, Path]) -> Iterator[str]:
    with serving(indexed[0] if request.param == "one shard" else indexed[2]) as base:
        yield base


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
def test_search_page_finds_folded_spellings_and_clitics(browser, served: str):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    both = {"زيارة رسمية إلى الإمارات", "مباراة الإمارات والسعودية"}
    for query in ("الإمارات", "الامارات", "الأمارات", "إمارات", "بالإمارات", "امارات"):
        assert set(_results(page, f"{served}/search/?q={quote(query)}")) == both, query
    sport = _results(page, f"{served}/search/?q={quote('الامارات')}&section={quote('رياضة')}")
    assert sport == ["مباراة الإمارات والسعودية"]
    for query in ("مدرسه", "مَدرسة", "افتتحت", "مدرس", "المدرسة حلب", "بالمدرسة", "وحلب"):
        assert _results(page, f"{served}/search/?q={quote(query)}") == [
            "افتتاح مدرسة جديدة في حلب"
        ], query
    assert _results(page, f"{served}/search/?q={quote('مستشفي')}") == ["مسؤول في مستشفى دمشق"]
    assert page.inner_text("[data-search-status]") == "النتائج: 1"
    shown = page.eval_on_selector("[data-search-results] time", "t => [t.dateTime, t.textContent]")
    assert shown == ["2025-01-03", "3 يناير 2025"]  # the date as the site's cards show it
    assert _results(page, f"{served}/search/?q={quote('مدرسة دمشق')}") == []  # every word
    assert page.inner_text("[data-search-status]") == "لا نتائج لهذا البحث."
    samples = ["الإمارات", "مُحَمَّد", "مستشفى", "مدرسة", "آذار ٢٠٢٤", "  Beirut   Port ", "مسؤول"]
    folded = page.evaluate(
        "async (xs) => { const m = await import('/search/search.js'); return xs.map(m.fold); }",
        samples,
    )
    assert folded == [normalize(s) for s in samples]
    queries = ["وزارة الخارجية، بيروت-Port U.S. ٢٠٢٤", "الإمارات والسعودية: مباراة!", "ال الم"]
    split = page.evaluate(
        "async (xs) => { const m = await import('/search/search.js'); return xs.map(m.terms); }",
        queries,
    )
    assert split == [
        list(dict.fromkeys(query_term(w) for w in token_columns(normalize(q))[2])) for q in queries
    ]
    words = ["وبالعراق", "للامارات", "وزير", "في", "فالكتاب", "الم", "والله", "كالبيت"]
    assert page.evaluate(
        "async (xs) => { const m = await import('/search/search.js'); return xs.map(m.bases); }",
        words,
    ) == [list(search_terms(w)) for w in words]
    assert errors == []
    page.close()


@pytest.mark.browser
def test_whole_words_and_titles_rank_first(browser, served: str):
    """BM25 over every shard at once: a title word (counted three times) beats the same
    word in a body, and a whole word beats a longer one found by its prefix."""
    page = browser.new_page()
    page.goto(f"{served}/search/")
    ranked = page.evaluate(
        """async (qs) => { const m = await import('/search/search.js');
           const out = [];
           for (const q of qs) {
             const found = await m.find(q, "");
             out.push(await Promise.all(found.map(async (r) => (await r.data()).title)));
           }
           return out; }""",
        ["مباراة", "حلب"],
    )
    # مباراة: in c's title and text, in e's text only
    assert ranked[0] == ["مباراة الإمارات والسعودية", "سباق في دبي"]
    # حلب: the whole word in b (title and text), حلبة in e (a prefix match)
    assert ranked[1] == ["افتتاح مدرسة جديدة في حلب", "سباق في دبي"]
    page.close()


@pytest.mark.browser
@pytest.mark.parametrize("which", [0, 2], ids=["one shard", "split"])
def test_the_index_starts_loading_when_the_reader_goes_to_type(browser, indexed, which: int):
    # Not on opening the page (a reader may only look), but on focusing the box: the shards'
    # tables then load while the query is typed, not after Enter.
    asked: list[str] = []
    page = browser.new_page()
    with serving(indexed[which], asked) as base:
        page.goto(f"{base}/search/")
        page.wait_for_load_state("networkidle")
        assert not [p for p in asked if p.endswith(".json")]
        shards = (page.get_attribute("form[data-search-form]", "data-index") or "").split()
        assert len(shards) == 1 if which == 0 else len(shards) >= 2
        page.focus("#search-q")
        wanted = [f"{s}meta.json" for s in shards]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not set(wanted) <= set(asked):
            page.wait_for_timeout(50)
        assert set(wanted) <= set(asked), (wanted, asked)
        assert not [p for p in asked if "/c/" in p]  # no chunk before there is a query
        page.fill("#search-q", "الامارات")
        page.press("#search-q", "Enter")
        page.wait_for_function(
            "document.querySelector('[data-search-status]').textContent.startsWith('النتائج')"
        )
        assert page.inner_text("[data-search-status]") == "النتائج: 2"
        fragments = sorted(p for p in asked if "/f/" in p)
        assert len(fragments) == 2  # only the results' own
    page.close()


@pytest.mark.browser
def test_results_come_as_the_reader_types(browser, served: str):
    page = browser.new_page()
    page.goto(f"{served}/search/")
    page.type("#search-q", "مستشفى", delay=20)  # no Enter
    page.wait_for_function(
        "document.querySelector('[data-search-status]').textContent.startsWith('النتائج')"
    )
    titles = page.eval_on_selector_all(
        "[data-search-results] a", "els => els.map(e => e.textContent)"
    )
    assert titles == ["مسؤول في مستشفى دمشق"]
    assert "q=%D9%85%D8%B3%D8%AA%D8%B4%D9%81%D9%89" in page.url  # the address keeps the query
    page.fill("#search-q", "")
    page.wait_for_function("document.querySelector('[data-search-status]').textContent === ''")
    assert page.eval_on_selector_all("[data-search-results] li", "els => els.length") == 0
    page.close()


@pytest.mark.browser
def test_a_site_built_without_the_index_says_so(browser, sample_site: Path):
    """`serve`'s preview and --no-search builds have a search page but no index."""
    assert not (sample_site / "search" / "index-00").exists()
    page = browser.new_page()
    with serving(sample_site) as base:
        page.goto(f"{base}/search/?q={quote('سوريا')}")
        page.wait_for_function("document.querySelector('[data-search-status]').textContent")
        assert page.inner_text("[data-search-status]").startswith("البحث غير متاح")
    page.close()
