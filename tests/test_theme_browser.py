"""The theme in a real browser: text size, dark mode, offline reading, print, 390 px layout.

The sample site is served by a local http.server on 127.0.0.1 (a service worker needs http).
Run as a script to refresh the screenshots in docs/screenshots/:

    python -m tests.test_theme_browser [SITE_DIR]
"""

from __future__ import annotations

import functools
import http.server
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.browser

ARTICLE = "/رياضة/مدرب-إيطالي-يقود-فريقا-من-البصرة-إلى-صدارة-الدوري-العراقي/"
SHOTS = {
    "home": "/",
    "section": "/سوريا/",
    "entity": "/entity/حلب/",
    "article": ARTICLE,
}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextmanager
def serve(folder: Path) -> Iterator[tuple[str, http.server.ThreadingHTTPServer]]:
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", server
    finally:
        server.shutdown()
        server.server_close()


def article_url(base: str, sample_site: Path) -> str:
    path = ARTICLE
    if not (sample_site / path.strip("/") / "index.html").exists():  # sample content changed
        first = next(p for p in sorted(sample_site.glob("*/*/index.html"))
                     if p.parent.parent.name not in ("entity", "archive", "author", "page"))  # fmt: skip
        path = "/" + first.parent.relative_to(sample_site).as_posix() + "/"
    return base + quote(path)


@pytest.fixture
def site_url(sample_site: Path) -> Iterator[str]:
    with serve(sample_site) as (base, _):
        yield base


def body_px(page) -> float:
    return page.evaluate("parseFloat(getComputedStyle(document.querySelector('.body')).fontSize)")


def test_text_size_control_is_remembered(browser, site_url: str, sample_site: Path):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(article_url(site_url, sample_site))
    before = body_px(page)
    assert page.locator("[data-size-step='0']").is_disabled()
    page.click("[data-size-step='1']")
    page.click("[data-size-step='1']")
    assert page.evaluate("document.documentElement.dataset.size") == "2"
    bigger = body_px(page)
    assert bigger > before * 1.2
    page.reload()
    assert body_px(page) == bigger  # set from localStorage before the first paint
    assert not page.locator("[data-size-step='0']").is_disabled()
    page.click("[data-size-step='0']")
    assert body_px(page) == before
    page.click("[data-size-step='-1']")
    assert body_px(page) < before
    assert page.locator("[data-size-step='-1']").is_disabled()  # the smallest step
    context.close()


def background(page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def test_dark_toggle_follows_system_and_remembers(browser, site_url: str):
    context = browser.new_context(color_scheme="light")
    page = context.new_page()
    page.goto(site_url + "/")
    assert background(page) == "rgb(255, 255, 255)"
    toggle = page.locator("[data-theme-toggle]")
    assert toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    assert background(page) == "rgb(18, 18, 18)"
    assert toggle.get_attribute("aria-pressed") == "true"
    page.goto(site_url + "/entity/")
    # No flash: the attribute is on <html> when the first byte of CSS applies.
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert background(page) == "rgb(18, 18, 18)"
    page.locator("[data-theme-toggle]").click()  # back to light = back to following the system
    assert page.evaluate("localStorage.getItem('sahifa-theme')") is None
    context.close()

    dark = browser.new_context(color_scheme="dark")
    page = dark.new_page()
    page.goto(site_url + "/")
    assert background(page) == "rgb(18, 18, 18)"
    assert page.locator("[data-theme-toggle]").get_attribute("aria-pressed") == "true"
    dark.close()


def test_opened_article_readable_offline(browser, sample_site: Path):
    with serve(sample_site) as (base, _):
        context = browser.new_context(service_workers="allow")
        page = context.new_page()
        url = article_url(base, sample_site)
        page.goto(url)
        title = page.locator("h1").inner_text()
        page.evaluate("navigator.serviceWorker.ready")
        deadline = time.monotonic() + 60
        while not page.evaluate("caches.match(location.href).then(r => !!r)"):  # awaits the promise
            assert time.monotonic() < deadline, "the service worker never cached the article"
            page.wait_for_timeout(100)
    # The server is gone and the browser is offline: only the service worker can answer.
    context.set_offline(True)
    page.reload()
    assert page.locator("h1").inner_text() == title
    assert page.locator(".body p").first.inner_text().strip()
    body_font = page.evaluate("getComputedStyle(document.querySelector('.body')).fontFamily")
    assert body_font.startswith('"Noto Naskh Arabic"')  # the stylesheet came from the cache too
    context.close()


def test_no_sideways_scroll_and_no_layout_shift_on_a_phone(browser, site_url: str, sample_site):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.add_init_script(
        "window.__cls = 0; new PerformanceObserver(l => l.getEntries().forEach(e => {"
        " if (!e.hadRecentInput) window.__cls += e.value; }))"
        ".observe({type: 'layout-shift', buffered: true});"
    )
    for url in (site_url + "/", article_url(site_url, sample_site), site_url + "/entity/"):
        page.goto(url)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, url
        assert page.evaluate("window.__cls") == 0, url
        strip = page.locator(".sections ul")
        assert strip.evaluate("e => getComputedStyle(e).overflowX") == "auto"
    context.close()


def test_keyboard_skip_link_and_focus_ring(browser, site_url: str):
    page = browser.new_page()
    page.goto(site_url + "/")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    assert skip.evaluate("e => e === document.activeElement")
    assert skip.evaluate("e => e.getBoundingClientRect().top >= 0")  # visible once focused
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.close()


def test_print_hides_furniture_and_shows_link_urls(browser, site_url: str, sample_site: Path):
    page = browser.new_page()
    page.goto(article_url(site_url, sample_site))
    page.emulate_media(media="print")
    for selector in (".share", ".sections", ".search-form", ".text-size", ".prev-next"):
        if page.locator(selector).count():
            assert page.locator(selector).first.is_hidden(), selector
    link = page.locator(".body a[href^='http'], .body a[href^='/']")
    if link.count():
        after = link.first.evaluate("e => getComputedStyle(e, '::after').content")
        assert "(" in after
    page.close()


# --- screenshots for the docs ------------------------------------------------------------------


def take_screenshots(site: Path, out: Path) -> list[Path]:
    """Phone (390 px, 2x) and desktop (1280 px) first screens, light and dark."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    with serve(site) as (base, _), sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
        )
        for name, path in SHOTS.items():
            for device, (width, height), scale in (
                ("phone", (390, 844), 2),
                ("desktop", (1280, 800), 1),
            ):
                for scheme in ("light", "dark"):
                    context = browser.new_context(
                        viewport={"width": width, "height": height},
                        device_scale_factor=scale,
                        color_scheme=scheme,
                        is_mobile=device == "phone",
                        has_touch=device == "phone",
                        service_workers="block",
                    )
                    page = context.new_page()
                    page.goto(base + quote(path))
                    page.wait_for_load_state("networkidle")
                    file = out / f"{name}-{device}{'-dark' if scheme == 'dark' else ''}.png"
                    page.screenshot(path=str(file))
                    made.append(file)
                    context.close()
        browser.close()
    return made


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    for shot in take_screenshots(
        Path(sys.argv[1]) if len(sys.argv) > 1 else root / "site", root / "docs" / "screenshots"
    ):
        print(shot.relative_to(root), shot.stat().st_size // 1024, "KB")
