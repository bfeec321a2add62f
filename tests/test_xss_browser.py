"""Hostile content in a real browser: every page of a site built from script-laden articles is
loaded in headless Chromium; no script of theirs runs, no handler exists, no dangerous link.

Every payload would set `window.__pwned` or open a dialog (alert) if it ever ran.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from bs4 import BeautifulSoup

from sahifa.config import load_config
from sahifa.pipeline import build

from .conftest import make_content

pytestmark = pytest.mark.browser

HOSTILE_TITLE = (
    "</script><script>window.__pwned='title'</script><img src=x onerror=alert('title')>"
    " \"quoted\" 'single' & #hash\nsecond line"
)
H = "<img src=x onerror=window.__pwned='{0}'><script>alert('{0}')</script>"


def yaml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


MARKDOWN_BODY = """فقرة عادية أولى في المقال.

<script>window.__pwned='raw-script'</script>

<img src=x onerror="window.__pwned='raw-img'">

<iframe src="javascript:alert('iframe')"></iframe>

<a href="javascript:alert('raw-a')">raw</a> <svg onload=alert('svg')></svg>

[a](javascript:window.__pwned='link') [b](JAVASCRIPT:alert('upper'))
[c](java&#115;cript:alert('entity')) [d](&#x6A;avascript:alert('hex'))
[e](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) [f](vbscript:msgbox('vb'))
[g](java%0Ascript:alert('newline')) [h](%6Aavascript:alert('pct')) <javascript:alert('auto')>
![i](javascript:alert('image')) ![j](data:image/svg+xml,<svg/onload=alert('svgimg')>)
[k][ref] [l](<javascript:alert('angle')>)

[ref]: javascript:alert('reference')

## <img src=x onerror=alert('heading')> عنوان قسم

`<script>alert('code')</script>`

```html
<script>alert('fence')</script>
```

| <b onmouseover=alert('table')>x</b> |
|---|
| <script>alert('cell')</script> |
"""

SCRAPED = """<script>window.__pwned='txt-title'</script> عنوان منسوخ
خاص - <img src=x onerror=alert('txt-byline')>
<b onclick=alert('txt-heading')>عنوان فرعي</b>:
نص الفقرة الأولى المنسوخة من موقع إخباري مع <script>alert('txt-para')</script> في وسطها هنا.
"""


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("xss")
    site = tmp / "site"
    site.mkdir()
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    front = {
        "title": HOSTILE_TITLE,
        "date": "2024-05-01T10:00:00+03:00",
        "section": H.format("section") + " أخبار",
        "author": H.format("author") + " كاتب",
        "byline": H.format("byline"),
        "summary": H.format("summary") + "</script>",
        "tags": [H.format("tag"), "وسم"],
        "entities": [H.format("entity"), "دمشق", "</script><script>alert('ent-json')</script>"],
        "image": "x.jpg\" onerror=\"window.__pwned='image'",
        "lang": "ar\" onmouseover=\"alert('lang')",
    }
    fm = "".join(
        f"{k}: [{', '.join(yaml_str(x) for x in v)}]\n"
        if isinstance(v, list)
        else f"{k}: {yaml_str(v)}\n"
        for k, v in front.items()
    )
    make_content(
        tmp,
        {
            "hostile.md": f"---\n{fm}---\n{MARKDOWN_BODY}",
            "scraped.txt": SCRAPED,
            "plain.md": "---\ntitle: مقال عادي عن دمشق\ndate: 2024-05-02T10:00:00+03:00\n"
            "entities: [دمشق]\n---\nزيارة إلى دمشق.\n",
        },
    )
    build(load_config(None, content_dir=tmp / "content", output_dir=site, base_url=base))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, site
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


INSPECT = """() => {
  const bad = [];
  const allowed = ["http:", "https:", "mailto:", "tel:"];
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      if (attr.name.toLowerCase().startsWith("on")) bad.push(`${el.tagName} ${attr.name}`);
    }
    if (["IFRAME", "FRAME", "OBJECT", "EMBED", "BASE"].includes(el.tagName))
      bad.push(el.tagName);
  }
  for (const el of document.querySelectorAll("a[href], area[href], link[href]")) {
    const protocol = new URL(el.href, location.href).protocol;
    if (!allowed.includes(protocol)) bad.push(`${el.tagName} href ${el.href.slice(0, 60)}`);
  }
  for (const el of document.querySelectorAll("[src], [srcset], [poster], [action], [formaction]")) {
    for (const name of ["src", "poster", "action", "formaction"]) {
      const value = el.getAttribute(name);
      if (value === null) continue;
      const protocol = new URL(value, location.href).protocol;
      if (!["http:", "https:"].includes(protocol)) bad.push(`${el.tagName} ${name} ${value}`);
    }
  }
  const scripts = [...document.scripts].map((s) => ({
    src: s.src, type: s.type, text: s.src ? "" : s.textContent,
  }));
  return { bad, scripts, pwned: window.__pwned === undefined ? null : String(window.__pwned) };
}"""


def test_no_hostile_script_runs_on_any_page(browser, hostile_site: tuple[str, Path]):
    base, site = hostile_site
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    assert len(pages) > 10
    dialogs: list[str] = []
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    page.on("dialog", lambda d: (dialogs.append(f"{page.url}: {d.message}"), d.dismiss()))
    inline_theme: set[str] = set()
    for rel in pages:
        url = base + rel.removesuffix("index.html")
        response = page.goto(url, wait_until="load")
        assert response is not None and response.ok, rel
        page.wait_for_timeout(30)  # let deferred scripts and image errors fire
        seen = page.evaluate(INSPECT)
        assert seen["pwned"] is None, f"{rel}: payload ran ({seen['pwned']})"
        assert seen["bad"] == [], f"{rel}: {seen['bad'][:5]}"
        for script in seen["scripts"]:
            if script["src"]:
                assert script["src"].startswith(base), (rel, script["src"])
            elif script["type"] == "application/ld+json":
                json.loads(script["text"])  # still one valid JSON document
            else:
                inline_theme.add(script["text"])
    context.close()
    assert dialogs == []
    assert len(inline_theme) <= 1, "only the theme's own inline script may appear"
    assert all("pwned" not in s and "alert" not in s for s in inline_theme)


def test_hostile_values_survive_as_text(hostile_site: tuple[str, Path]):
    """Escaped, not lost: the title reads back verbatim from the page, JSON-LD and share links."""
    _, site = hostile_site
    expected_title = HOSTILE_TITLE
    for path in site.rglob("index.html"):
        html = path.read_text("utf-8")
        soup = BeautifulSoup(html, "html.parser")
        h1 = soup.select_one("article h1")
        if h1 is not None and h1.get_text().startswith("</script>"):
            break
    else:
        pytest.fail("no article page shows the hostile title as text")
    assert h1.get_text().strip() == expected_title.strip()
    assert html.lower().count("<script") == len(soup.find_all("script"))
    blocks = soup.find_all("script", type="application/ld+json")
    assert blocks, "the article page has JSON-LD"
    for block in blocks:
        raw = block.string or ""
        assert "</" not in raw and "<!--" not in raw and "<script" not in raw.lower()
        json.loads(raw)
    ld_text = json.dumps([json.loads(b.string or "") for b in blocks], ensure_ascii=False)
    assert json.dumps(expected_title, ensure_ascii=False)[1:-1].split("\\n")[0] in ld_text
    x_link = soup.select_one("a.share-x")
    assert x_link is not None
    query = parse_qs(urlparse(str(x_link["href"])).query)
    assert query["text"] == [expected_title.replace("\n", " ")]
    assert query["url"][0].startswith("http://127.0.0.1:")


def test_search_results_show_hostile_values_as_text(
    browser, hostile_site: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The search index's result files hold the raw title, section and summary; the search
    page must put them in as text (search.js sets textContent, never HTML)."""
    from sahifa.config import SEARCH_SWITCH

    _, site = hostile_site
    monkeypatch.setenv(SEARCH_SWITCH, "1")
    indexed = tmp_path / "indexed"
    build(load_config(None, content_dir=site.parent / "content", output_dir=indexed))
    handler = functools.partial(_Quiet, directory=str(indexed))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dialogs: list[str] = []
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        page.goto(f"{base}/search/?q=" + "فقرة عادية")  # words of the hostile article's body
        page.wait_for_function(
            "document.querySelector('[data-search-status]').textContent.startsWith('النتائج')"
        )
        page.wait_for_timeout(50)  # let any image error fire
        titles = page.eval_on_selector_all(
            "[data-search-results] a", "els => els.map(e => e.textContent)"
        )
        assert titles == [HOSTILE_TITLE]
        summary = page.inner_text("[data-search-results] .summary")
        assert summary.startswith("<img src=x onerror=") and summary.endswith("</script>")
        seen = page.evaluate(INSPECT)
        assert seen["pwned"] is None and seen["bad"] == [], seen
        assert (
            page.eval_on_selector_all(
                "[data-search-results] img, [data-search-results] script", "els => els.length"
            )
            == 0
        )
    finally:
        context.close()
        server.shutdown()
    assert dialogs == []
