"""The build cache: per-article work reused, unchanged pages neither rendered nor written."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from sahifa.config import load_config
from sahifa.incremental import CHUNK_MAX, Builder, spread
from sahifa.readers import read_article

from .conftest import ROOT, make_content


def article(title: str, day: int, body: str, section: str = "أخبار") -> str:
    return f"---\ntitle: {title}\ndate: 2025-01-{day:02d}T10:00:00+03:00\nsection: {section}\n---\n{body}\n"


def setup_site(tmp_path: Path) -> tuple[Path, Path]:
    content = make_content(
        tmp_path,
        {
            "a.md": article("زيارة إلى دمشق", 1, "وصل الوفد إلى دمشق ثم حلب."),
            "b.md": article("سوق في حلب", 2, "افتتح سوق جديد في حلب قرب دمشق."),
            "c.md": article("طقس بيروت", 3, "أمطار في بيروت.", section="طقس"),
        },
    )
    return content, tmp_path / "site"


def builder(content: Path, out: Path, **kw) -> Builder:
    config = load_config(None, content_dir=content, output_dir=out)
    return Builder(config, cache_dir=out.parent / ".cache", **kw)


def must_not_run(why: str):
    """A stand-in for a function the build must not call in this case."""

    def fail(*_a, **_k):
        raise AssertionError(why)

    return fail


def home_titles(out: Path) -> list[str]:
    soup = BeautifulSoup((out / "index.html").read_text("utf-8"), "html.parser")
    return [a.get_text() for a in soup.select(".card > a")]


def test_nothing_changed_renders_and_writes_nothing(tmp_path: Path):
    content, out = setup_site(tmp_path)
    first = builder(content, out).build()
    assert first.reread == 3 and first.rendered > 0
    again = builder(content, out).build()  # a new process: state comes from the cache file
    assert (again.reread, again.rendered, again.written) == (0, 0, [])
    assert again.files == first.files


def test_unchanged_files_keep_their_inode(tmp_path: Path):
    content, out = setup_site(tmp_path)
    builder(content, out).build()
    (content / "c.md").write_text(
        article("طقس بيروت اليوم", 3, "أمطار غزيرة في بيروت.", "طقس"), "utf-8"
    )
    result = builder(content, out).build()
    assert result.reread == 1
    assert "index.html" in result.written  # the home page lists the new title
    assert "طقس بيروت اليوم" in home_titles(out)
    page = out / "أخبار" / "سوق-في-حلب" / "index.html"
    inode_page = page.stat().st_ino
    builder(content, out).build()
    assert page.stat().st_ino == inode_page  # hard-linked, not rewritten


def test_edit_updates_related_and_listings(tmp_path: Path):
    content, out = setup_site(tmp_path)
    b = builder(content, out, in_place=True)
    b.build()
    (content / "a.md").write_text(
        article("زيارة جديدة إلى دمشق", 1, "وصل الوفد إلى دمشق ثم حلب."), "utf-8"
    )
    result = b.build()
    assert result.reread == 1
    related_page = BeautifulSoup(
        (out / "أخبار" / "سوق-في-حلب" / "index.html").read_text("utf-8"), "html.parser"
    )
    assert "زيارة جديدة إلى دمشق" in [a.get_text() for a in related_page.select(".related a")]
    assert "زيارة جديدة إلى دمشق" in home_titles(out)
    assert not (out / "أخبار" / "زيارة-إلى-دمشق").exists()  # the old URL is gone


def test_delete_removes_page_and_links(tmp_path: Path):
    content, out = setup_site(tmp_path)
    b = builder(content, out, in_place=True)
    b.build()
    (content / "a.md").unlink()
    result = b.build()
    assert "أخبار/زيارة-إلى-دمشق/index.html" in result.removed
    assert not (out / "أخبار" / "زيارة-إلى-دمشق").exists()
    assert "زيارة إلى دمشق" not in home_titles(out)
    for page in out.rglob("*.html"):
        assert "زيارة-إلى-دمشق" not in page.read_text("utf-8"), page


def test_corrupt_or_foreign_cache_is_ignored(tmp_path: Path):
    content, out = setup_site(tmp_path)
    builder(content, out).build()
    (out.parent / ".cache" / "state.pickle").write_bytes(b"not a pickle at all")
    result = builder(content, out).build()
    assert result.reread == 3  # nothing trusted: everything read again
    assert home_titles(out)[0] == "طقس بيروت"


def test_template_change_rerenders(tmp_path: Path):
    content, out = setup_site(tmp_path)
    theme = tmp_path / "theme"
    shutil.copytree(ROOT / "templates", theme)
    config = load_config(None, content_dir=content, output_dir=out, theme_dir=theme)
    first = Builder(config, cache_dir=tmp_path / ".c").build()
    footer = theme / "footer.html"
    footer.write_text(
        footer.read_text("utf-8").replace("</footer>", "<p>تذييل جديد</p></footer>"), "utf-8"
    )
    result = Builder(config, cache_dir=tmp_path / ".c").build()
    assert result.reread == 0
    assert result.rendered == first.rendered  # every page uses the footer
    assert "تذييل جديد" in (out / "index.html").read_text("utf-8")
    assert "تذييل جديد" in (out / "أخبار" / "سوق-في-حلب" / "index.html").read_text("utf-8")


def groups_made(monkeypatch) -> list[str]:
    """The names of the feed/sitemap groups the next builds make, in a list filled as they do."""
    import sahifa.incremental as inc

    made: list[str] = []
    real = inc.site_groups

    def spy(site, config):
        for group in real(site, config):
            yield replace(group, make=lambda g=group: made.append(g.name) or g.make())

    monkeypatch.setattr(inc, "site_groups", spy)
    return made


def test_only_the_feeds_of_changed_listings_are_made_again(tmp_path: Path, monkeypatch):
    content, out = setup_site(tmp_path)
    builder(content, out).build()
    made = groups_made(monkeypatch)
    # The same title, URL and date, a new body: the listings' feeds carry the article again.
    (content / "c.md").write_text(article("طقس بيروت", 3, "مطر غزير في بيروت.", "طقس"), "utf-8")
    result = builder(content, out).build()
    assert "feed:/" in made and "feed:/طقس/" in made  # the site feed and the article's section
    assert "feed:/أخبار/" not in made  # no article of that section changed
    assert "sitemaps" not in made  # the same URLs, the same dates
    assert "atom.xml" in result.written and "أخبار/atom.xml" not in result.written
    assert "مطر غزير" in (out / "طقس" / "index.html").read_text("utf-8")
    assert (out / "أخبار" / "feed.json").is_file()


def test_a_new_newest_story_leaves_other_listings_feeds_alone(tmp_path: Path, monkeypatch):
    """A story newer than every other changes the site's newest date, which only dates a
    feed without entries: the feeds of listings it is not in are not made again."""
    content, out = setup_site(tmp_path)
    builder(content, out).build()
    made = groups_made(monkeypatch)
    (content / "d.md").write_text(article("أمطار جديدة", 9, "مطر في الطقس.", "طقس"), "utf-8")
    result = builder(content, out).build()
    assert "feed:/" in made and "feed:/طقس/" in made
    assert "feed:/أخبار/" not in made and "أخبار/atom.xml" not in result.written
    assert "feed:/entity/دمشق/" not in made  # an entity the new story does not name
    assert "أمطار جديدة" in (out / "atom.xml").read_text("utf-8")


def test_unchanged_inputs_skip_linking_and_rendering(tmp_path: Path, monkeypatch):
    content, out = setup_site(tmp_path)
    builder(content, out).build()
    import sahifa.incremental as inc

    fail = must_not_run("the site was linked again although no input changed")
    monkeypatch.setattr(inc, "link_site", fail)
    (content / "a.md").touch()  # a new mtime, the same bytes
    result = builder(content, out).build()
    assert (result.reread, result.written, result.articles) == (0, [], 3)
    assert builder(content, out).build().reread == 0
    (out / "index.html").unlink()  # the output is no longer complete: build for real
    monkeypatch.undo()
    result = builder(content, out).build()
    assert result.rendered >= 1 and (out / "index.html").is_file()
    assert home_titles(out)[0] == "طقس بيروت"


def test_watcher_changes_look_only_at_the_changed_files(tmp_path: Path):
    content, out = setup_site(tmp_path)
    b = builder(content, out, in_place=True)
    b.build()
    (content / "a.md").write_text(article("زيارة إلى حمص", 1, "وصل الوفد إلى حمص."), "utf-8")
    (content / "d.md").write_text(article("خبر جديد", 4, "نص جديد."), "utf-8")
    (content / "c.md").unlink()
    result = b.build(changed={content / "a.md", content / "d.md", content / "c.md"})
    assert result.reread == 2 and result.articles == 3
    assert {"خبر جديد", "زيارة إلى حمص"} <= set(home_titles(out))
    assert "طقس بيروت" not in home_titles(out)
    assert not (out / "طقس" / "طقس-بيروت").exists()
    # A file the watcher did not report is trusted as it was (the watcher sees every save).
    (content / "b.md").write_text(article("سوق في حلب", 2, "تغيير لم يبلغ عنه."), "utf-8")
    assert b.build(changed=set()).reread == 0
    # A removed folder cannot be accounted for file by file: everything is looked at.
    (content / "old").mkdir()
    (content / "old" / "e.md").write_text(article("قديم", 5, "نص."), "utf-8")
    result = b.build(changed={content / "old", content / "old" / "e.md"})
    assert result.articles == 4 and result.reread == 2  # b.md's unreported change too
    shutil.rmtree(content / "old")
    assert b.build(changed={content / "old"}).articles == 3


def test_a_changed_manifest_row_rereads_the_article(tmp_path: Path):
    content = make_content(tmp_path, {"a.txt": "عنوان الخبر\n\nنص الخبر في دمشق.\n"})
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,date,category\na.txt,2024-01-01T10:00:00+00:00,سياسة\n", "utf-8")
    out = tmp_path / "site"
    config = load_config(None, content_dir=content, output_dir=out, manifest=manifest, search=False)
    Builder(config, cache_dir=tmp_path / ".c").build()
    assert (out / "سياسة").is_dir()
    manifest.write_text("file,date,category\na.txt,2024-01-01T10:00:00+00:00,رياضة\n", "utf-8")
    result = Builder(config, cache_dir=tmp_path / ".c").build()
    assert result.reread == 1 and (out / "رياضة").is_dir() and not (out / "سياسة").exists()


def test_a_body_edit_re_renders_the_article_not_the_listings_that_show_its_card(tmp_path: Path):
    content = make_content(
        tmp_path,
        {
            "a.md": article("زيارة إلى دمشق", 1, "وصل الوفد إلى دمشق.\n\nثم زار حلب صباحا."),
            "b.md": article("سوق في حلب", 2, "افتتح سوق جديد في حلب قرب دمشق."),
        },
    )
    out = tmp_path / "site"
    builder(content, out).build()
    (content / "a.md").write_text(
        article("زيارة إلى دمشق", 1, "وصل الوفد إلى دمشق.\n\nثم زار حلب مساء."), "utf-8"
    )
    result = builder(content, out).build()
    page = "أخبار/زيارة-إلى-دمشق/index.html"
    assert result.written == [page] and result.rendered == 1
    assert "مساء" in (out / page).read_text("utf-8")
    # A paragraph more changes the word count, which no card shows (render.shown_fields).
    (content / "a.md").write_text(
        article("زيارة إلى دمشق", 1, "وصل الوفد إلى دمشق.\n\nثم زار حلب مساء.\n\nوعاد ليلا."),
        "utf-8",
    )
    result = builder(content, out).build()
    assert result.written == [page] and result.rendered == 1
    assert "وعاد ليلا" in (out / page).read_text("utf-8")
    # The summary (first paragraph) is on the cards: changing it re-renders the listings.
    (content / "a.md").write_text(
        article("زيارة إلى دمشق", 1, "وصل الوفد الكبير إلى دمشق.\n\nثم زار حلب مساء."), "utf-8"
    )
    result = builder(content, out).build()
    assert "index.html" in result.written and "أخبار/index.html" in result.written
    assert "الوفد الكبير" in (out / "index.html").read_text("utf-8")


def test_nothing_changed_is_known_without_loading_the_state(tmp_path: Path, monkeypatch):
    content, out = setup_site(tmp_path)
    builder(content, out).build()

    def fail(self):
        raise AssertionError("the State was loaded although nothing changed")

    monkeypatch.setattr(Builder, "_load_state", fail)
    again = builder(content, out).build()
    assert (again.articles, again.reread, again.written) == (3, 0, [])
    (out / "index.html").unlink()  # a file of the site went missing: a real build puts it back
    monkeypatch.undo()
    builder(content, out).build()
    assert (out / "index.html").is_file()


def test_a_scheduled_article_appears_when_it_falls_due(tmp_path: Path):
    import time
    from datetime import UTC, datetime, timedelta

    content, out = setup_site(tmp_path)
    due = datetime.now(UTC) + timedelta(seconds=2)
    (content / "d.md").write_text(
        f"---\ntitle: خبر مجدول\ndate: {due.isoformat()}\nsection: أخبار\n---\nنص.\n", "utf-8"
    )
    assert builder(content, out).build().articles == 3
    assert builder(content, out).build().articles == 3  # still scheduled: nothing to do
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.2)
    assert builder(content, out).build().articles == 4
    assert "خبر مجدول" in home_titles(out)


def test_preview_renders_the_saved_article_then_the_full_build_leaves_it_alone(tmp_path: Path):
    content, out = setup_site(tmp_path)
    b = builder(content, out, in_place=True)
    b.build()
    page = "أخبار/سوق-في-حلب/index.html"
    home = (out / "index.html").read_bytes()
    # The same places named: the related block and entity list stay as they were.
    body = "افتتح سوق كبير في حلب قرب دمشق."
    (content / "b.md").write_text(article("سوق في حلب", 2, body), "utf-8")
    shown = b.preview(content / "b.md")
    assert shown is not None and shown.written == [page]
    assert "سوق كبير" in (out / page).read_text("utf-8")
    assert (out / "index.html").read_bytes() == home  # the rest waits for the full build
    full = b.build(changed={content / "b.md"})
    assert page not in full.written  # the same bytes: the open page is not reloaded twice
    assert "سوق كبير" in (out / "index.html").read_text("utf-8")
    # A new title is a new URL: no preview, the full build does it all.
    (content / "b.md").write_text(article("سوق جديد في حلب", 2, "نص."), "utf-8")
    assert b.preview(content / "b.md") is None
    # A broken file: no preview either (the full build reports the error).
    (content / "b.md").write_text("---\ntitle: [\n---\n", "utf-8")
    assert b.preview(content / "b.md") is None


def site_bytes(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def test_forked_workers_build_the_same_site_as_one_process(tmp_path: Path, monkeypatch):
    """With every stage mapped over forked workers (which read, discover names, render and
    write the files themselves), the site is byte for byte the one a single process builds,
    and an incremental edit made by the workers lands in place."""
    import sahifa.incremental as inc

    content, _ = setup_site(tmp_path)
    one_out, two_out = tmp_path / "a" / "site", tmp_path / "b" / "site"  # caches beside them
    one = builder(content, one_out, jobs=1).build()
    monkeypatch.setattr(inc, "PARALLEL_MIN", 1)  # fork even for three articles
    two = builder(content, two_out, jobs=2).build()
    assert site_bytes(one_out) == site_bytes(two_out)
    assert sorted(one.written) == sorted(two.written) and two.rendered == one.rendered
    (content / "b.md").write_text(article("سوق كبير في حلب", 2, "سوق في حلب."), "utf-8")
    edit = builder(content, two_out, jobs=2).build()
    assert edit.reread == 1 and "index.html" in edit.written
    assert "سوق كبير في حلب" in home_titles(two_out)
    # The workers keyed the pages of the first build as they rendered them: the same keys
    # a single process makes, so the edit re-renders the same pages in both.
    serial = builder(content, one_out, jobs=1).build()
    assert 0 < edit.rendered == serial.rendered < two.rendered
    assert site_bytes(one_out) == site_bytes(two_out)


def test_workers_write_a_new_folder_and_link_unchanged_files(tmp_path: Path, monkeypatch):
    """A build that writes a whole new folder (`Swap`) has its render workers write the
    changed files there themselves; a file whose bytes did not change is linked from the
    current site (same inode), and the site equals a single process's."""
    import sahifa.incremental as inc

    content, out = setup_site(tmp_path)
    monkeypatch.setattr(inc, "PARALLEL_MIN", 1)
    builder(content, out, jobs=2).build()
    home, missing = out / "index.html", out / "404.html"
    inodes = home.stat().st_ino, missing.stat().st_ino
    own = tmp_path / "templates"
    own.mkdir()
    theme_404 = (ROOT / "templates" / "404.html").read_text("utf-8")
    (own / "404.html").write_text(theme_404.replace("</h1>", " (404)</h1>", 1), "utf-8")
    monkeypatch.setattr(inc, "PATCH_MAX", 0)  # a new folder even for a small change
    config = load_config(None, content_dir=content, output_dir=out, templates_dir=own)
    result = Builder(config, cache_dir=out.parent / ".cache", jobs=2).build()
    assert result.rendered > 2 and result.written == ["404.html"]
    assert home.stat().st_ino == inodes[0]  # the same bytes: linked, not written
    assert missing.stat().st_ino != inodes[1] and "(404)</h1>" in missing.read_text("utf-8")
    alone = tmp_path / "one" / "site"
    one = load_config(None, content_dir=content, output_dir=alone, templates_dir=own)
    Builder(one, cache_dir=None, jobs=1).build()
    assert site_bytes(alone) == site_bytes(out)


def test_the_cache_keeps_article_text_packed(tmp_path: Path):
    """The State every build loads holds each article's body and text packed (a fifth of
    their size), and the pages still show the full body."""
    import pickle

    from sahifa.model import unpack_body

    content, out = setup_site(tmp_path)
    builder(content, out).build()
    state = pickle.loads((out.parent / ".cache" / "state.pickle").read_bytes())
    assert state.sources == {}  # saved apart, in shards
    src = builder(content, out).state.sources["b.md"]
    assert (src.article.body_html, src.article.text) == ("", "")
    full = unpack_body(src.article, src.body)
    assert "افتتح سوق جديد في حلب" in full.body_html and "افتتح سوق" in full.text
    page = (out / "أخبار" / "سوق-في-حلب" / "index.html").read_text("utf-8")
    assert "افتتح سوق جديد في حلب قرب دمشق." in page


def test_the_saved_gazetteers_serve_until_the_names_change(tmp_path: Path, monkeypatch):
    import sahifa.incremental as inc

    content, out = setup_site(tmp_path)
    builder(content, out).build()

    fail = must_not_run("a gazetteer was built again although no name changed")
    monkeypatch.setattr(inc, "load_gazetteer", fail)
    monkeypatch.setattr(inc, "promote_discovered", fail)
    (content / "a.md").write_text(article("زيارة إلى دمشق", 1, "وصل الوفد إلى دمشق ثم حلب أمس."))
    result = builder(content, out).build()  # a new process: the gazetteers come from the cache
    assert result.reread == 1 and (out / "entity" / "دمشق" / "index.html").is_file()
    monkeypatch.undo()
    # The site's own list changes: both gazetteers are made again and the new name is found.
    (content / "entities.toml").write_text('[place]\n"سوق" = []\n', "utf-8")
    builder(content, out).build()
    assert (out / "entity" / "سوق" / "index.html").is_file()


def test_compiled_templates_are_kept_in_the_cache(tmp_path: Path, monkeypatch):
    import jinja2

    content, out = setup_site(tmp_path)
    builder(content, out).build()
    assert any((out.parent / ".cache" / "templates").iterdir())

    fail = must_not_run("a template was compiled again although none changed")
    monkeypatch.setattr(jinja2.Environment, "compile", fail)
    (content / "a.md").write_text(article("زيارة إلى دمشق", 1, "وصل الوفد إلى دمشق صباحًا."))
    result = builder(content, out).build()  # a new process: templates come from the cache
    assert result.rendered >= 1 and "صباحًا" in (
        out / "أخبار" / "زيارة-إلى-دمشق" / "index.html"
    ).read_text("utf-8")


def test_the_command_answers_an_unchanged_site_before_importing_the_build(tmp_path: Path):
    import subprocess
    import sys

    content, out = setup_site(tmp_path)
    probe = (
        "import sys; from sahifa.cli import main; code = main(sys.argv[1:]); "
        "print('loaded:', sorted(m for m in ('sahifa.incremental', 'jinja2', 'markdown_it') "
        "if m in sys.modules)); sys.exit(code)"
    )
    args = ["--content", str(content), "--output", str(out), "--no-search"]

    def run() -> str:
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True,
                              text=True, cwd=tmp_path, check=True)  # fmt: skip
        return done.stdout

    assert "'jinja2'" in run()  # the first build imports everything
    again = run()
    assert "loaded: []" in again and "(0 written, 0 rendered)" in again
    (content / "c.md").write_text(article("طقس بيروت", 3, "ثلوج في بيروت.", section="طقس"))
    edited = run()  # a changed file: the full build runs and writes the page
    assert "'sahifa.incremental'" in edited and "ثلوج" in (out / "index.html").read_text("utf-8")


def test_a_changed_site_is_walked_once(tmp_path: Path, monkeypatch):
    import sahifa.fingerprint as fp
    import sahifa.incremental as inc
    from sahifa.cli import main

    content, out = setup_site(tmp_path)
    args = ["-q", "--content", str(content), "--output", str(out), "--no-search"]
    monkeypatch.chdir(tmp_path)
    assert main(args) == 0
    walks = []
    for module in (fp, inc):
        monkeypatch.setattr(module, "walk", lambda c, w=module.walk: walks.append(c) or w(c))
    (content / "c.md").write_text(article("طقس بيروت", 3, "رياح في بيروت.", section="طقس"))
    assert main(args) == 0  # the check found a change; the build reuses its walk of content/
    assert len(walks) == 1 and "رياح" in (out / "index.html").read_text("utf-8")


def _shard_files(cache: Path) -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in cache.glob("sources-*")}


def test_an_edit_rewrites_one_shard_of_the_saved_sources(tmp_path: Path, monkeypatch):
    """The per-article cache is saved in shards; an edit writes only the shard holding the
    edited file, and the next process loads the new and the untouched shards together."""
    import pickle

    from sahifa.incremental import SHARDS, Source, _shard

    files = {
        f"n{i:02d}.md": article(f"خبر رقم {i}", 1 + i % 28, f"نص الخبر {i} من حلب.")
        for i in range(40)
    }
    content = make_content(tmp_path, files)
    out, cache = tmp_path / "site", tmp_path / ".cache"
    builder(content, out).build()
    before = _shard_files(cache)
    assert len(before) == SHARDS
    (content / "n07.md").write_text(article("خبر معدل", 8, "نص جديد من دمشق."), "utf-8")
    dumped = []
    real = pickle.dumps
    monkeypatch.setattr(pickle, "dumps", lambda obj, **kw: dumped.append(obj) or real(obj, **kw))
    result = builder(content, out).build()
    monkeypatch.undo()
    shards = [
        part
        for part in dumped
        if isinstance(part, dict) and all(isinstance(v, Source) for v in part.values())
    ]
    assert len(shards) == 1 and "n07.md" in shards[0]  # only the edited file's shard
    assert result.reread == 1
    after = _shard_files(cache)
    assert len(after) == SHARDS  # the replaced shard's old file is gone
    changed = sorted(set(after) - set(before))
    assert [name.split("-")[1] for name in changed] == [f"{_shard('n07.md'):02d}"]
    assert all(after[n] == before[n] for n in set(after) & set(before))  # not rewritten
    again = builder(content, out)
    assert again.state.sources["n07.md"].article.title == "خبر معدل"
    assert len(again.state.sources) == 40
    assert again.build().reread == 0


def test_a_damaged_or_missing_shard_means_no_cache(tmp_path: Path):
    content, out = setup_site(tmp_path)
    cache = tmp_path / ".cache"
    builder(content, out).build()
    shard = next(p for p in sorted(cache.glob("sources-*")) if p.stat().st_size > 10)
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: still a readable pickle, maybe
    shard.write_bytes(bytes(data))
    # An edit, so that the build loads the cache (an unchanged site never needs it).
    (content / "c.md").write_text(article("طقس بيروت", 3, "أمطار غزيرة."), "utf-8")
    assert builder(content, out).build().reread == 3  # nothing trusted: all read again
    # The damaged file kept its name, which is the name of the right bytes: it was written
    # again, not taken for them (else every later build would distrust the cache).
    (content / "c.md").write_text(article("طقس بيروت", 3, "رياح."), "utf-8")
    assert builder(content, out).build().reread == 1
    next(p for p in sorted(cache.glob("sources-*")) if p != shard).unlink()
    (content / "c.md").write_text(article("طقس بيروت", 3, "ثلوج."), "utf-8")
    assert builder(content, out).build().reread == 3
    (content / "c.md").write_text(article("طقس بيروت", 3, "شمس."), "utf-8")
    assert builder(content, out).build().reread == 1  # whole again: trusted


def test_a_damaged_side_file_is_written_again(tmp_path: Path):
    """The linking memos and gazetteers are saved beside the State under the digest of their
    bytes; a damaged copy under the right name is replaced by the next build."""
    content, out = setup_site(tmp_path)
    cache = tmp_path / ".cache"
    builder(content, out).build()
    side = next(cache.glob("names-*"))
    data = bytearray(side.read_bytes())
    data[len(data) // 2] ^= 0xFF
    side.write_bytes(bytes(data))
    (content / "c.md").write_text(article("طقس بيروت", 3, "أمطار غزيرة."), "utf-8")
    assert builder(content, out).build().reread == 3  # the State not trusted
    (content / "c.md").write_text(article("طقس بيروت", 3, "ثلوج."), "utf-8")
    assert builder(content, out).build().reread == 1  # the side file was written again


def test_the_read_reuses_the_stats_the_quick_key_took(tmp_path: Path, monkeypatch):
    """Each content file is statted once per build (by the quick key); the read records
    those stats, so an edit is still seen and the next build still finds nothing to do."""
    import sahifa.incremental as inc

    content, out = setup_site(tmp_path)
    builder(content, out).build()
    (content / "a.md").write_text(article("زيارة إلى حمص", 1, "وصل الوفد إلى حمص."), "utf-8")
    monkeypatch.setattr(inc, "_stat", must_not_run("a second stat of a content file"))
    assert builder(content, out).build().reread == 1
    assert "زيارة إلى حمص" in home_titles(out)
    again = builder(content, out).build()
    assert (again.reread, again.rendered) == (0, 0)


def test_a_build_leaves_the_collector_as_it_found_it(tmp_path: Path, monkeypatch):
    """A build turns the collector off and freezes what it has read, and undoes both when it
    ends, also on an error: `serve` runs build after build in one process and must go on
    collecting the garbage of the old ones."""
    import gc

    import sahifa.incremental as inc

    content, out = setup_site(tmp_path)
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    seen = []
    real_link = inc.Builder._link
    monkeypatch.setattr(
        inc.Builder,
        "_link",
        lambda self, *a: (
            seen.append((gc.get_freeze_count(), gc.isenabled())) or real_link(self, *a)
        ),
    )
    kept = builder(content, out)  # kept alive, with what it built, as `serve` keeps it
    kept.build()
    assert seen and seen[0][0] > 0  # linking ran with the read objects frozen
    assert not seen[0][1]  # and the collector off
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    # what the build made and keeps is old already: no young collection will walk it again
    young = len(gc.get_objects(0)) + len(gc.get_objects(1))
    assert young < 200, young
    (content / "a.md").write_text(article("زيارة", 1, "نص."), "utf-8")
    monkeypatch.setattr(inc.Builder, "_plan", must_not_run("planning fails"))
    with pytest.raises(AssertionError, match="planning fails"):
        builder(content, out).build()
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    gc.disable()  # a caller that keeps the collector off: the build leaves it off
    try:
        monkeypatch.undo()
        builder(content, out).build()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_new_story_leaves_the_older_pages_of_its_listings_alone(tmp_path: Path):
    """Pages are cut from the oldest end (pages.paginate) and an entity's companions (which
    change with every story naming it) are shown on its page 1 only: a new story rewrites
    pages 1 and 2 of its listings, not the older ones."""
    files = {
        f"s{i}.md": article(f"خبر {i} عن دمشق", i + 1, f"وصل الوفد {i} إلى دمشق وحلب.")
        for i in range(7)
    }
    content = make_content(tmp_path, files)
    out = tmp_path / "site"
    config = load_config(None, content_dir=content, output_dir=out, per_page=2)
    Builder(config, cache_dir=tmp_path / ".cache").build()
    older = sorted(out.glob("entity/*/page/3/index.html"))
    assert older and all((p.parent.parent / "4" / "index.html").is_file() for p in older)
    first = BeautifulSoup((older[0].parents[2] / "index.html").read_text("utf-8"), "html.parser")
    assert first.select_one(".co-entities") is not None  # page 1: the entities seen with it
    assert (
        BeautifulSoup(older[0].read_text("utf-8"), "html.parser").select_one(".co-entities") is None
    )
    (content / "s7.md").write_text(
        article("خبر 7 عن دمشق", 9, "وصل الوفد 7 إلى دمشق وحلب."), "utf-8"
    )
    result = Builder(config, cache_dir=tmp_path / ".cache").build()
    assert "index.html" in result.written and "page/2/index.html" in result.written
    entity_pages = [name for name in result.written if name.startswith("entity/")]
    assert entity_pages and not [n for n in entity_pages if "/page/3/" in n or "/page/4/" in n]
    assert not [n for n in result.written if n.startswith(("page/3/", "page/4/"))]


def test_a_new_headline_re_renders_only_the_pages_that_show_it(tmp_path: Path):
    """An archive's or author's pages hold a label with a count, not the stories behind it
    (frontpage.ThemeData.listed): retitling one story renders the pages that show its card,
    and each of them changes; the older pages of its year, month and author stay as they are."""

    def story(i: int, title: str) -> str:
        return (
            f"---\ntitle: {title}\ndate: 2025-01-{i + 1:02d}T10:00:00+03:00\nslug: s{i}\n"
            f"section: أخبار\nauthor: سعاد\n---\nوصل الوفد {i} إلى دمشق.\n"
        )

    content = make_content(tmp_path, {f"s{i}.md": story(i, f"خبر رقم {i}") for i in range(7)})
    out = tmp_path / "site"
    config = load_config(None, content_dir=content, output_dir=out, per_page=2)
    Builder(config, cache_dir=tmp_path / ".cache").build()
    assert (out / "archive/2025/01/page/3/index.html").is_file()
    assert (out / "author").is_dir()
    (content / "s6.md").write_text(story(6, "خبر رقم 6 محدث"), "utf-8")
    result = Builder(config, cache_dir=tmp_path / ".cache").build()
    pages = [name for name in result.written if name.endswith(".html")]
    assert "archive/2025/01/index.html" in pages and "index.html" in pages
    assert any(name.startswith("author/") for name in pages)
    assert result.rendered == len(pages)  # nothing rendered only to come out the same
    assert not [name for name in pages if "/page/" in name]


def test_the_same_folders_named_another_way_render_nothing_again(tmp_path: Path, monkeypatch):
    """`--content content` and `--content /full/path/content` are the same site: the
    caches key the config with its folders made absolute (config.config_id)."""
    content, out = setup_site(tmp_path)
    monkeypatch.chdir(tmp_path)
    near = load_config(None, content_dir=Path(content.name), output_dir=Path(out.name))
    Builder(near, cache_dir=tmp_path / ".cache").build()
    far = load_config(None, content_dir=content.absolute(), output_dir=out.absolute())
    result = Builder(far, cache_dir=tmp_path / ".cache").build()
    assert result.rendered == 0 and result.written == []
    moved = load_config(None, content_dir=content, output_dir=tmp_path / "elsewhere")
    assert Builder(moved, cache_dir=tmp_path / ".cache").build().written  # another output


def test_a_preview_with_drafts_never_reaches_the_next_build(tmp_path: Path):
    """`serve --drafts` (or another base URL) builds a site that must never be deployed.
    The server writes it to a folder of its own (serve.preview_site), never the output
    folder; and should another writer put its pages there, the build command's cache no
    longer vouches for the folder: it said "nothing changed" and left the draft's page and
    the home page listing it, ready to be deployed. A build whose State wrote another folder
    renders and writes everything again."""
    from sahifa.cli import main
    from sahifa.serve import default_builder, preview_site

    content = make_content(
        tmp_path,
        {
            "a.md": article("زيارة إلى دمشق", 1, "وصل الوفد إلى دمشق."),
            "d.md": "---\ntitle: مسودة لم تنشر\ndate: 2025-01-05T10:00:00+03:00\n"
            "section: أخبار\nslug: draft-story\ndraft: true\n---\nنص المسودة.\n",
        },
    )
    out = tmp_path / "site"
    command = ["-q", "--no-search", "--content", str(content), "--output", str(out)]
    assert main(command) == 0
    before = site_bytes(out)
    assert not list(out.glob("*/draft-story"))
    drafts = load_config(
        None, content_dir=content, output_dir=out, drafts=True, base_url="http://127.0.0.1:9/"
    )
    shown, factory = preview_site(drafts)
    factory(shown).build()
    assert list(shown.output_dir.glob("*/draft-story"))  # the preview shows it...
    assert site_bytes(out) == before  # ...and the output folder never sees it
    default_builder(drafts).build()  # another writer, straight into the output folder
    assert list(out.glob("*/draft-story")) and "مسودة" in (out / "index.html").read_text("utf-8")
    assert main(command) == 0
    assert not list(out.glob("*/draft-story"))
    fresh = tmp_path / "fresh"
    assert (
        main(["-q", "--no-search", "--no-cache", "--content", str(content), "--output", str(fresh)])
        == 0
    )
    assert site_bytes(out) == site_bytes(fresh)


def test_the_preview_server_starts_again_from_its_cache(tmp_path: Path):
    """`serve` keeps a cache of its own beside its folder (serve.preview_site): started again
    on the same site it reads and renders nothing, yet links the site so that the first save
    gets its one-page preview; a file changed while it was stopped is read again.
    `--no-cache` reads it all."""
    from sahifa.serve import SERVE_CACHE, preview_site

    content, out = setup_site(tmp_path)
    shown, factory = preview_site(load_config(None, content_dir=content, output_dir=out))
    assert shown.output_dir == tmp_path / SERVE_CACHE / "site"
    assert factory(shown).build().reread == 3
    assert (tmp_path / SERVE_CACHE / "state.pickle").is_file() and not out.exists()
    again = factory(shown)
    result = again.build()
    assert (result.reread, result.rendered, result.written) == (0, 0, [])
    (content / "a.md").write_text(article("زيارة إلى دمشق", 1, "وصل الوفد صباحا."), "utf-8")
    shown_page = again.preview(content / "a.md")
    assert shown_page is not None and shown_page.written
    assert "صباحا" in (shown.output_dir / shown_page.written[0]).read_text("utf-8")
    (content / "b.md").write_text(article("سوق في حلب", 2, "افتتح سوق أكبر في حلب."), "utf-8")
    later = factory(shown).build()
    assert later.reread == 2  # a.md (previewed, never fully built) and b.md
    assert "سوق أكبر" in (shown.output_dir / "index.html").read_text("utf-8")
    shown, factory = preview_site(
        load_config(None, content_dir=content, output_dir=out), cache=False
    )
    assert factory(shown).build().reread == 3


def test_an_upgraded_library_that_shapes_the_output_means_no_cache(tmp_path: Path, monkeypatch):
    """Cached articles hold Markdown's HTML and their slugs, and pages are kept between
    builds: a new markdown-it-py (or slugify, PyYAML, Jinja2, Python) must not leave a site
    half made by the old one. Their versions are in the code version the caches are kept under."""
    from sahifa import fingerprint

    content, out = setup_site(tmp_path)
    assert builder(content, out).build().reread == 3
    assert builder(content, out).build().reread == 0
    real = fingerprint.library_versions()
    assert "markdown-it-py=" in real and "python-slugify=" in real
    monkeypatch.setattr(fingerprint, "metadata", _Versions(fingerprint.metadata, "markdown-it-py"))
    assert fingerprint.library_versions() != real
    assert builder(content, out).build().reread == 3  # the old cache is not trusted


class _Versions:
    """importlib.metadata with one package at another version."""

    def __init__(self, real, bumped: str) -> None:
        self.real, self.bumped = real, bumped
        self.PackageNotFoundError = real.PackageNotFoundError

    def version(self, name: str) -> str:
        return "99.0" if name == self.bumped else self.real.version(name)


def test_a_new_default_section_reaches_the_cached_articles(tmp_path: Path):
    """`default_section` is read into every article without a section of its own: when it
    changes, the cached articles are read again, and the site is the one a build without
    cache makes (they stayed in the old section before)."""
    content = make_content(
        tmp_path,
        {
            "a.md": "---\ntitle: خبر بلا قسم\ndate: 2025-01-02T10:00:00+03:00\n---\nنص.\n",
            "b.md": article("سوق في حلب", 2, "افتتح سوق في حلب."),
        },
    )
    out = tmp_path / "site"
    first = load_config(None, content_dir=content, output_dir=out)
    Builder(first, cache_dir=tmp_path / ".cache").build()
    assert list(out.glob("أخبار/*/index.html"))
    moved = load_config(None, content_dir=content, output_dir=out, default_section="محليات")
    result = Builder(moved, cache_dir=tmp_path / ".cache").build()
    assert result.reread == 2
    assert [p.parent.name for p in out.glob("محليات/*/index.html")]
    fresh = tmp_path / "fresh"
    Builder(replace(moved, output_dir=fresh)).build()
    assert site_bytes(out) == site_bytes(fresh)


def test_the_first_preview_takes_the_build_commands_reading(tmp_path: Path):
    """A first `serve` on a site the build command has built reads no file again: it takes
    the articles, memos and gazetteers from the build cache (`Builder._seeded`), renders its
    own pages, and makes the same preview as a server that read everything itself."""
    from sahifa.cli import main
    from sahifa.serve import preview_site

    content, out = setup_site(tmp_path)
    assert main(["-q", "--no-search", "--content", str(content), "--output", str(out)]) == 0
    config = load_config(None, content_dir=content, output_dir=out, drafts=True)
    shown, factory = preview_site(config)
    first = factory(shown).build()
    assert first.reread == 0 and first.rendered > 0
    alone, plain = preview_site(replace(config, output_dir=tmp_path / "elsewhere" / "site"))
    assert plain(alone).build().reread == 3
    assert site_bytes(shown.output_dir) == site_bytes(alone.output_dir)


def test_heavy_work_is_handed_out_first_and_never_two_to_one_chunk():
    # Search bundles take seconds each; pages take a millisecond. Handed out last, all the
    # bundles fell in the last chunk of one worker.
    items = [f"page{i}" for i in range(500)] + [f"bundle{i}" for i in range(5)]
    out = spread(items, lambda item: item.startswith("bundle"))
    assert sorted(out) == sorted(items)
    chunks = [out[i : i + CHUNK_MAX] for i in range(0, len(out), CHUNK_MAX)]
    heavy_per_chunk = [sum(item.startswith("bundle") for item in c) for c in chunks]
    assert heavy_per_chunk[:5] == [1, 1, 1, 1, 1] and sum(heavy_per_chunk) == 5
    assert [item for item in out if item.startswith("page")] == items[:500]  # order kept
    assert spread(items[:500], lambda item: False) == items[:500]


def test_tokens_go_from_reading_to_extraction_within_their_budget(tmp_path: Path, monkeypatch):
    """Each article's text is split into tokens once, when it is read; extraction gets them
    packed (model.pack_columns). Files past COLUMNS_BUDGET bytes do not ship them, and
    extraction splits their text again: the same site either way."""
    import sahifa.entities as ent
    import sahifa.incremental as inc

    split: list[str] = []
    real = ent.token_columns

    def counted(text: str):
        split.append(text)
        return real(text)

    monkeypatch.setattr(ent, "token_columns", counted)
    content, _ = setup_site(tmp_path)
    kept_out, over_out = tmp_path / "a" / "site", tmp_path / "b" / "site"
    builder(content, kept_out, jobs=1).build()
    texts = {p.name: read_article(p.name, p.read_bytes()).text for p in content.glob("*.md")}
    assert not set(split) & set(texts.values())  # read once (in incremental), never again
    monkeypatch.setattr(inc, "COLUMNS_BUDGET", 0)
    builder(content, over_out, jobs=1).build()
    assert sorted(t for t in split if t in texts.values()) == sorted(texts.values())
    assert site_bytes(kept_out) == site_bytes(over_out)


def test_the_sources_saved_aside_are_those_one_process_saves(tmp_path: Path, monkeypatch):
    """A build with workers saves its changed shards of sources in a forked process while it
    links and renders: the same files a single process saves at the end, which the next
    build loads and trusts; a saver that fails leaves the shards to the end of the build."""
    import sahifa.incremental as inc

    files = {
        f"n{i:02d}.md": article(f"خبر رقم {i}", 1 + i % 28, f"نص الخبر {i} من حلب.")
        for i in range(40)
    }
    content = make_content(tmp_path, files)
    one_out, two_out = tmp_path / "a" / "site", tmp_path / "b" / "site"
    builder(content, one_out, jobs=1).build()
    monkeypatch.setattr(inc, "SHARDS_ASIDE_MIN", 1)
    started = []
    real_start = inc.Builder._save_shards_aside

    def spy(self: Builder) -> None:
        real_start(self)
        started.append(self._shard_saver is not None)

    monkeypatch.setattr(inc.Builder, "_save_shards_aside", spy)
    builder(content, two_out, jobs=2).build()
    assert started == [True]
    one_cache, two_cache = tmp_path / "a" / ".cache", tmp_path / "b" / ".cache"
    assert sorted(_shard_files(one_cache)) == sorted(_shard_files(two_cache))
    again = builder(content, two_out, jobs=2)
    assert len(again.state.sources) == 40
    (content / "n07.md").write_text(article("خبر معدل", 8, "نص جديد من دمشق."), "utf-8")
    assert again.build().reread == 1  # the rest trusted from the shards saved aside
    # A saver that dies: the build saves the shards itself, and the cache holds.
    monkeypatch.setattr(inc, "_save_shards_in_child", lambda *a: os._exit(3))
    (content / "n08.md").write_text(article("خبر آخر", 9, "نص من بيروت."), "utf-8")
    shutil.rmtree(two_cache)
    assert builder(content, two_out, jobs=2).build().reread == 40
    assert len(_shard_files(two_cache)) == inc.SHARDS
    (content / "n09.md").write_text(article("خبر ثالث", 9, "نص من عمان."), "utf-8")
    assert builder(content, two_out, jobs=2).build().reread == 1


def test_one_worker_makes_every_feed(tmp_path: Path, monkeypatch):
    """The feeds share their entries through a cache that each worker fills for itself: they
    are made as one batch, by one worker, so that no entry is written twice; every other
    group and page is shared out, and the site is the one a single process builds."""
    import sahifa.incremental as inc

    content, _ = setup_site(tmp_path)
    one_out, two_out = tmp_path / "a" / "site", tmp_path / "b" / "site"
    builder(content, one_out, jobs=1).build()
    log = tmp_path / "made.txt"
    real = inc.site_groups

    def spy(site, config):
        for group in real(site, config):

            def make(g=group):
                with open(log, "a", encoding="utf-8") as handle:  # from whichever process
                    handle.write(f"{g.name}\t{os.getpid()}\n")
                return g.make()

            yield replace(group, make=make)

    monkeypatch.setattr(inc, "site_groups", spy)
    monkeypatch.setattr(inc, "PARALLEL_MIN", 1)
    monkeypatch.setattr(inc, "CHUNK_MAX", 1)  # one item a time: both workers take some
    builder(content, two_out, jobs=2).build()
    made = [line.split("\t") for line in log.read_text("utf-8").splitlines()]
    feeds = {pid for name, pid in made if name.startswith("feed:")}
    assert len([name for name, _ in made if name.startswith("feed:")]) > 5
    assert len(feeds) == 1 and str(os.getpid()) not in feeds  # one worker, not this process
    assert site_bytes(one_out) == site_bytes(two_out)


def test_one_worker_renders_every_listing(tmp_path: Path, monkeypatch):
    """The listing pages share their stories' cards through a per-process memo: they are
    rendered as one batch, by one worker, while the articles' own pages are shared out; the
    site, page keys and page store are those a single process makes."""
    import sahifa.incremental as inc
    from sahifa.pagestore import PageStore, unpack

    class _Sources(dict):
        def __missing__(self, source: str) -> str:
            return source

    content, out = setup_site(tmp_path)
    cache = tmp_path / ".cache"

    def made(jobs: int) -> tuple[dict[str, bytes], dict[str, str], list]:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
        build = builder(content, out, jobs=jobs)
        build.build()
        rows = PageStore(cache / "pages.sqlite")._read("SELECT * FROM pages ORDER BY file")
        # The pickled contexts, each story as its source (their bytes may differ between
        # processes: pickle notes which equal strings are one object).
        return (
            site_bytes(out),
            build.state.page_keys,
            [(*row[:-1], unpack(row[-1], _Sources())) for row in rows or ()],
        )

    alone = made(1)
    log = tmp_path / "rendered.txt"
    real = inc._render_one

    def spy(job):
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{job.template}\t{job.file}\t{os.getpid()}\n")
        return real(job)

    monkeypatch.setattr(inc, "_render_one", spy)
    monkeypatch.setattr(inc, "PARALLEL_MIN", 1)
    monkeypatch.setattr(inc, "CHUNK_MAX", 1)
    monkeypatch.setattr(inc, "LISTINGS_BATCH_MIN", 1)
    shared = made(2)
    rendered = [line.split("\t") for line in log.read_text("utf-8").splitlines()]
    listings = {pid for template, _, pid in rendered if template != "article.html"}
    assert len([t for t, _, _ in rendered if t != "article.html"]) > 5
    assert len(listings) == 1 and str(os.getpid()) not in listings
    assert len({file for _, file, _ in rendered}) == len(rendered)  # each page once
    assert alone[2] and shared == alone  # the same files, page keys and page-store rows
    monkeypatch.setattr(inc, "LISTINGS_BATCH_MAX", 3)  # a large site's listings: in batches
    assert made(2) == alone
