"""`python build.py check`: internal links and #anchors of the built site."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sahifa.check import check_command, check_site
from sahifa.cli import main
from sahifa.config import load_config
from sahifa.pipeline import build

from .conftest import make_content

FILES = {
    "a.md": "---\ntitle: غارات قرب الفرات\ndate: 2024-10-09T08:00:00+03:00\nsection: سوريا\n---\n"
            "شهدت دير الزور غارات.\n\n## الوضع الميداني\n\nنص.\n\n## ردود الفعل\n\nنص.\n\n"
            "## ما التالي\n\nنص.\n",
    "b.md": "---\ntitle: معرض للكتاب\ndate: 2024-10-01T08:00:00+02:00\nsection: ثقافة\n---\n"
            "افتتح معرض الكتاب في القاهرة.\n",
}  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("check")
    out = tmp / "site"
    content = make_content(tmp, FILES)
    build(load_config(None, content_dir=content, output_dir=out, base_url="https://ex.org/news/"))
    return out


def test_clean_site_passes(built: Path, capsys: pytest.CaptureFixture[str]):
    broken, files, links = check_site(built, "https://ex.org/news/")
    assert broken == [] and files > 10 and links > 100
    config = load_config(None, output_dir=built)  # the base URL is read from the built site
    assert check_command(config) == 0
    assert capsys.readouterr().out == ""


def test_cli_reports_each_broken_link(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    site = tmp_path / "site"
    shutil.copytree(built, site)
    shutil.rmtree(site / "ثقافة" / "معرض-للكتاب")  # every link to this article now dangles
    article = site / "سوريا" / "غارات-قرب-الفرات" / "index.html"
    html = article.read_text("utf-8")
    html = html.replace("</main>", '<a href="#no-such-id">x</a><a href="/elsewhere/">y</a></main>')
    article.write_text(html, "utf-8")
    assert main(["check", "--output", str(site)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert (
        "سوريا/غارات-قرب-الفرات/index.html: broken link '#no-such-id' (no element with id 'no-such-id')"
        in lines
    )
    assert any(ln.startswith("سوريا/غارات-قرب-الفرات/index.html: broken link '/elsewhere/' (outside the base path")
               for ln in lines)  # fmt: skip
    dangling = [ln for ln in lines if "معرض-للكتاب" in ln or "%D9%85%D8%B9%D8%B1%D8%B6" in ln]
    pages = {ln.split(":", 1)[0] for ln in dangling}
    assert {"index.html", "ثقافة/index.html", "sitemap.xml", "atom.xml"} <= pages
    assert all("(no such file)" in ln for ln in dangling)


def test_anchor_in_another_page(built: Path, tmp_path: Path):
    site = tmp_path / "site"
    shutil.copytree(built, site)
    home = site / "index.html"
    good = '<a href="سوريا/غارات-قرب-الفرات/#ما-التالي">ok</a>'
    bad = '<a href="سوريا/غارات-قرب-الفرات/#missing">bad</a>'
    home.write_text(home.read_text("utf-8").replace("</main>", good + bad + "</main>"), "utf-8")
    broken, _, _ = check_site(site, "https://ex.org/news/")
    assert [(b.page, b.link) for b in broken] == [("index.html", "سوريا/غارات-قرب-الفرات/#missing")]


def test_missing_site_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert check_command(load_config(None, output_dir=tmp_path / "nothing")) == 1
    assert "no built site" in capsys.readouterr().err
