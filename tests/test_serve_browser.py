"""Live reload in a real browser: edit, break and fix an article while the page is open."""

from __future__ import annotations

import pytest

from .test_serve import BROKEN, PAGE, article, enc, make_site, running

pytestmark = pytest.mark.browser

LONG = "\n\n".join(f"فقرة رقم {i}: " + "كلام عن معرض الكتاب في دمشق " * 12 for i in range(40))


def test_page_follows_edits_breakage_and_fixes(browser, tmp_path):
    content, theme, config = make_site(tmp_path)
    source = content / "book-fair.md"
    source.write_text(article(LONG + "\n\nالنص الأول."), encoding="utf-8")
    with running(config, config_path=None) as server:
        page = browser.new_page(viewport={"width": 800, "height": 600})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            page.goto(server.url + enc(PAGE.lstrip("/")))
            page.wait_for_selector("html[data-sahifa-live]")
            page.evaluate("window.scrollTo(0, 1500); window.beforeEdit = true")
            assert page.evaluate("window.scrollY") == 1500

            # an edit on disk: the page reloads by itself, at the same scroll position
            source.write_text(article(LONG + "\n\nنص جديد من المحرر."), encoding="utf-8")
            page.wait_for_function(
                "document.body.innerText.includes('نص جديد من المحرر.')", timeout=10_000
            )
            page.wait_for_function("document.readyState === 'complete'")
            assert page.evaluate("window.beforeEdit") is None  # it was reloaded
            page.wait_for_function("Math.abs(window.scrollY - 1500) < 5", timeout=5_000)

            # a stylesheet edit: swapped in place, no reload
            page.evaluate("window.beforeCss = true")
            css = theme / "static" / "style.css"
            css.write_text(
                css.read_text(encoding="utf-8")
                + "\nbody { border-top: 7px solid rgb(1, 2, 3); }\n",
                encoding="utf-8",
            )
            page.wait_for_function(
                "getComputedStyle(document.body).borderTopWidth === '7px'", timeout=10_000
            )
            assert page.evaluate("window.beforeCss") is True

            # broken: the overlay names file and line; the last good page stays
            source.write_text(BROKEN, encoding="utf-8")
            overlay = page.locator("#sahifa-error-overlay")
            overlay.wait_for(state="visible", timeout=10_000)
            assert "book-fair.md:3" in overlay.inner_text()
            assert "نص جديد من المحرر." in page.inner_text("main")
            fresh = browser.new_page()
            fresh.goto(server.url + enc(PAGE.lstrip("/")))
            assert "book-fair.md:3" in fresh.locator("#sahifa-error-overlay").inner_text()
            fresh.close()

            # fixed: the overlay goes, the new text comes
            source.write_text(article("النص بعد الإصلاح."), encoding="utf-8")
            page.wait_for_function(
                "document.body.innerText.includes('النص بعد الإصلاح.')", timeout=10_000
            )
            overlay.wait_for(state="detached", timeout=5_000)
            assert errors == []
        finally:
            page.close()
