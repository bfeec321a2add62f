"""The quick build after an edit to a story's body, headline or summary (sahifa/quickedit.py):
it renders the pages that show the edited stories (a body edit: their own pages; a new
headline: also the listings, related blocks and feeds that show it), and what it leaves on
disk is byte for byte what a full build of the same content makes. Any edit that moves a
story (its URL, date, section, entities) goes through the full build."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from sahifa import search
from sahifa.config import SEARCH_SWITCH, load_config
from sahifa.errors import SahifaError
from sahifa.fingerprint import BuildResult, nothing_changed
from sahifa.incremental import Builder
from sahifa.model import shard_of, unpack_body

from .conftest import make_content

PLACES = ("دمشق", "حلب", "بيروت", "عمان", "القاهرة")


def story(
    i: int, extra: str = "", title: str | None = None, slug: bool = False, summary: str = ""
) -> str:
    """An article naming two places, with three headings (a table of contents); with `slug`,
    its URL is set in front matter (else made from its title)."""
    a, b = PLACES[i % 5], PLACES[(i + 2) % 5]
    head = title or f"خبر رقم {i} من {a}"
    body = "\n\n".join(f"## عنوان فرعي {h}\n\nفقرة {h} عن {a} و{b} في الخبر {i}." for h in range(3))
    return (
        f"---\ntitle: {head}\ndate: 2025-02-{1 + i % 27:02d}T09:00:00+03:00\n"
        + (f"slug: story-{i}\n" if slug else "")
        + ("author: ريم الحسن\n" if i % 2 else "")  # an author page lists the odd ones
        + f"section: {'أخبار' if i % 3 else 'اقتصاد'}\nsummary: {summary or f'ملخص الخبر {i}'}\n"
        f"---\n{body}\n{extra}"
    )


def site(tmp_path: Path, n: int = 12, slug: bool = False) -> tuple[Path, Path]:
    content = make_content(tmp_path, {f"s{i:02d}.md": story(i, slug=slug) for i in range(n)})
    return content, tmp_path / "site"


def cli_build(content: Path, out: Path, search: bool = False) -> BuildResult:
    """What `python build.py` does: the quick check, then the Builder with what it saw."""
    config = load_config(
        None, content_dir=content, output_dir=out, search=None if search else False
    )
    cache = out.parent / ".cache"
    report, taken = nothing_changed(config, cache)
    if report is not None:
        return report
    return Builder(config, cache_dir=cache, jobs=1).build(taken=taken)


def files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def fresh(content: Path, tmp_path: Path, search: bool = False) -> dict[str, bytes]:
    """The site a full build without any cache makes of the same content."""
    out = tmp_path / "fresh" / "site"
    shutil.rmtree(out, ignore_errors=True)
    config = load_config(
        None, content_dir=content, output_dir=out, search=None if search else False
    )
    Builder(config, cache_dir=None).build()
    return files(out)


def edit(path: Path, text: str) -> None:
    """Write and move the mtime on, as an editor's save does (even within one tick)."""
    st = path.stat()
    path.write_text(text, "utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def assert_saved_as_by_a_full_build(content: Path, out: Path, search: bool = False) -> None:
    """What the last build saved is what a full build saves: the next build trusts it."""
    config = load_config(
        None, content_dir=content, output_dir=out, search=None if search else False
    )
    saved = Builder(config, cache_dir=out.parent / ".cache").state
    shutil.rmtree(out)
    shutil.rmtree(out.parent / ".cache")
    full = Builder(config, cache_dir=out.parent / ".cache")
    full.build()
    for name in ("page_keys", "file_hashes", "inputs_key", "published", "theme"):
        assert getattr(saved, name) == getattr(full.state, name), name
    # Feeds and the news sitemap are keyed by their articles' digests, which a quick build
    # leaves as they were (their bytes do not change): the next full build makes them again.
    assert {n: files for n, (_, files) in saved.groups.items()} == {
        n: files for n, (_, files) in full.state.groups.items()
    }
    assert {n: k for n, k in saved.groups.items() if n.startswith("search:")} == {
        n: k for n, k in full.state.groups.items() if n.startswith("search:")
    }
    assert saved.sources.keys() == full.state.sources.keys()
    for rel, src in saved.sources.items():
        again = full.state.sources[rel]
        assert (src.article, src.refs, src.digest) == (again.article, again.refs, again.digest)
        assert src.terms == again.terms  # the search terms the next edit re-indexes from


def test_a_body_edit_renders_its_own_page_only_and_matches_a_full_build(tmp_path: Path):
    content, out = site(tmp_path)
    assert not cli_build(content, out).quick  # the first build is a full one
    edit(content / "s04.md", story(4, "\nفقرة أضيفت في آخر الخبر.\n"))
    result = cli_build(content, out)
    assert result.quick and result.rendered == 1 and result.reread == 1
    assert len(result.written) == 1 and result.written[0].endswith("index.html")
    assert "فقرة أضيفت في آخر الخبر" in (out / result.written[0]).read_text("utf-8")
    assert files(out) == fresh(content, tmp_path)
    again = cli_build(content, out)  # the Index it saved proves nothing changed since
    assert "check" in again.seconds and again.written == []
    assert_saved_as_by_a_full_build(content, out)


@pytest.mark.parametrize(
    ("why", "text"),
    [
        ("a new title, so a new slug", story(4, title="عنوان جديد كليا")),
        ("a new place named", story(4, "\nوصل الوفد إلى القدس وبغداد.\n")),
        ("a new date", story(4).replace("2025-02-05", "2025-03-05")),
        ("a new section", story(4).replace("section: أخبار", "section: رياضة")),
    ],
)
def test_an_edit_seen_beyond_its_page_gets_a_full_build(tmp_path: Path, why: str, text: str):
    content, out = site(tmp_path)
    cli_build(content, out)
    edit(content / "s04.md", text)
    result = cli_build(content, out)
    assert not result.quick, why
    assert "link" in result.seconds
    assert files(out) == fresh(content, tmp_path)


def test_a_new_file_a_template_or_an_unreadable_edit_gets_a_full_build(tmp_path: Path):
    content, out = site(tmp_path)
    cli_build(content, out)
    (content / "s99.md").write_text(story(99), "utf-8")
    assert not cli_build(content, out).quick
    (content / "s99.md").unlink()
    assert not cli_build(content, out).quick
    edit(content / "s03.md", "---\ntitle: [broken\n---\nنص\n")
    with pytest.raises(SahifaError, match="s03.md"):  # reported as by a full build
        cli_build(content, out)
    edit(content / "s03.md", story(3, "\nفقرة أضيفت.\n"))
    assert cli_build(content, out).quick  # the failed build left the cache as it was
    assert files(out) == fresh(content, tmp_path)


def test_a_store_row_not_written_for_the_saved_page_is_not_trusted(tmp_path: Path):
    content, out = site(tmp_path)
    cli_build(content, out)
    store = out.parent / ".cache" / "pages.sqlite"
    with sqlite3.connect(store) as db:
        db.execute("UPDATE pages SET page_key = 'stale' WHERE source = 's05.md'")
    db.close()
    edit(content / "s05.md", story(5, "\nسطر جديد.\n"))
    result = cli_build(content, out)
    assert not result.quick
    assert files(out) == fresh(content, tmp_path)
    edit(content / "s05.md", story(5, "\nسطر جديد آخر.\n"))  # the full build wrote the row
    assert cli_build(content, out).quick
    store.write_bytes(b"not a database")
    edit(content / "s05.md", story(5, "\nسطر ثالث.\n"))
    assert not cli_build(content, out).quick
    assert files(out) == fresh(content, tmp_path)


def test_random_edits_always_leave_the_site_a_full_build_makes(tmp_path: Path):
    """Body edits, new headlines and summaries (quick), touches, new slugs and edits that
    name new places (full), in a random order: after each, the site is the one a build
    without a cache makes."""
    content, out = site(tmp_path, 10, slug=True)
    cli_build(content, out)
    rng = random.Random(5)
    kinds: dict[str, list[bool]] = {}
    for step in range(32):
        i = rng.randrange(10)
        path = content / f"s{i:02d}.md"
        kind = rng.choice(["body", "touch", "title", "summary", "slug", "place", "both", "two"])
        if kind == "body":
            edit(path, story(i, f"\nفقرة {step} أضيفت.\n" * rng.randint(1, 3), slug=True))
        elif kind == "touch":
            st = path.stat()
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        elif kind == "title":
            edit(path, story(i, title=f"عنوان {step} من {PLACES[i % 5]}", slug=True))
        elif kind == "summary":
            edit(path, story(i, slug=True, summary=f"ملخص جديد {step}"))
        elif kind == "both":  # a new headline and a new paragraph in one save
            title = f"عنوان {step} من {PLACES[i % 5]}"
            edit(path, story(i, f"\nفقرة {step}.\n", title=title, slug=True))
        elif kind == "two":  # two stories retitled before one build
            j = (i + 3) % 10
            edit(path, story(i, title=f"عنوان {step} من {PLACES[i % 5]}", slug=True))
            edit(
                content / f"s{j:02d}.md",
                story(j, title=f"عنوان {step} من {PLACES[j % 5]}", slug=True),
            )
        elif kind == "slug":
            edit(path, story(i, title=f"عنوان {step} من {PLACES[i % 5]}"))
        else:
            edit(path, story(i, f"\nزار الوفد {PLACES[step % 5]} وبغداد.\n", slug=True))
        result = cli_build(content, out)
        kinds.setdefault(kind, []).append(result.quick)
        assert files(out) == fresh(content, tmp_path), (step, kind)
    # (after a "slug" edit, the next edit of that story moves its URL back: a full build)
    assert sum(kinds["title"]) >= 3 and any(kinds["summary"]) and any(kinds["body"]), kinds
    assert any(kinds["both"]) and any(kinds["two"]), kinds
    # (a place edit can be quick when the story already named that place in its last version)
    assert not all(kinds["place"]) and not all(kinds["slug"]), kinds


def test_a_new_headline_renders_the_pages_that_show_it_and_its_feeds(tmp_path: Path):
    """A corrected headline (the story's URL set in front matter): its page, the listings
    and related blocks that show it, its feeds and the news sitemap, nothing else; the
    same bytes and the same saved State (feed keys too) as a full build."""
    content, out = site(tmp_path, slug=True)
    cli_build(content, out)
    before = files(out)
    edit(content / "s11.md", story(11, title="تصحيح - خبر رقم 11 من حلب", slug=True))
    result = cli_build(content, out)
    assert result.quick and result.reread == 1
    after = files(out)
    changed = {name for name in after if after[name] != before.get(name)}
    assert set(result.written) == changed
    showing = {name for name, data in after.items() if "تصحيح - خبر رقم 11".encode() in data}
    assert changed == showing  # every file that shows the new headline, and only those
    assert {"index.html", "atom.xml", "rss.xml", "feed.json", "news-sitemap.xml"} <= changed
    assert any(n.startswith("entity/") and n.endswith("atom.xml") for n in changed)
    assert sum(n.endswith("index.html") for n in changed) == result.rendered > 5
    assert after == fresh(content, tmp_path)
    saved = Builder(load_config(None, content_dir=content, output_dir=out, search=False),
                    cache_dir=out.parent / ".cache").state  # fmt: skip
    feeds = {n: k for n, k in saved.groups.items() if n.startswith("feed:")}
    assert_saved_as_by_a_full_build(content, out)
    full = Builder(load_config(None, content_dir=content, output_dir=out, search=False),
                   cache_dir=out.parent / ".cache").state  # fmt: skip
    assert feeds == {n: k for n, k in full.groups.items() if n.startswith("feed:")}


def test_a_card_the_store_cannot_vouch_for_sends_a_headline_to_the_full_build(tmp_path: Path):
    """Rows name other stories by reference: a card that is not what the saved pages were
    made of (here another story's values under its name) must never be rendered."""
    content, out = site(tmp_path, slug=True)
    cli_build(content, out)
    store = out.parent / ".cache" / "pages.sqlite"
    with sqlite3.connect(store) as db:
        other = db.execute("SELECT card FROM cards WHERE source = 's02.md'").fetchone()[0]
        db.execute("UPDATE cards SET card = ? WHERE source = 's05.md'", (other,))
    db.close()
    edit(content / "s04.md", story(4, title="خبر رقم 4 من القاهرة بعد التحديث", slug=True))
    result = cli_build(content, out)
    assert not result.quick
    assert files(out) == fresh(content, tmp_path)
    edit(content / "s04.md", story(4, title="خبر رقم 4 من القاهرة مرة أخرى", slug=True))
    assert cli_build(content, out).quick  # the full build put the cards right
    assert files(out) == fresh(content, tmp_path)
    with sqlite3.connect(store) as db:
        db.execute("DELETE FROM pages WHERE file = 'index.html'")
    db.close()
    edit(content / "s04.md", story(4, title="خبر رقم 4 من القاهرة للمرة الثالثة", slug=True))
    assert not cli_build(content, out).quick  # a page without its row: not complete
    assert files(out) == fresh(content, tmp_path)


def test_with_search_a_body_edit_makes_its_shard_of_the_index_again(tmp_path: Path, monkeypatch):
    """The index split into shards (a large site's, here two articles a shard at least):
    the quick build makes the edited article's shard again, and leaves the others alone."""
    monkeypatch.setenv(SEARCH_SWITCH, "1")
    monkeypatch.setattr(search, "SHARD_ARTICLES", 2)
    content, out = site(tmp_path)
    cli_build(content, out, search=True)
    index = out / "search"
    shards = sorted(p.name for p in index.iterdir() if p.name.startswith("index-"))
    assert len(shards) == 4
    before = {p: p.stat().st_ino for b in shards for p in (index / b).rglob("*") if p.is_file()}
    edit(content / "s04.md", story(4, "\nكلمةفريدةللبحث في آخر الخبر.\n"))
    result = cli_build(content, out, search=True)
    assert result.quick and result.groups == 1
    mine = search.bundle_name(shard_of("s04.md", 4))
    changed = {p.relative_to(index).parts[0] for p in before if not p.exists()}
    changed |= {
        p.relative_to(index).parts[0]
        for b in shards
        for p in (index / b).rglob("*")
        if p.is_file() and before.get(p) != p.stat().st_ino
    }
    assert changed == {mine}
    chunks = [c.read_text("utf-8") for c in (index / mine / "c").iterdir()]
    assert sum('"كلمهفريدهللبحث":' in c for c in chunks) == 1  # the new word, folded
    assert files(out) == fresh(content, tmp_path, search=True)
    assert_saved_as_by_a_full_build(content, out, search=True)


def test_with_search_every_cached_source_keeps_its_terms(tmp_path: Path, monkeypatch):
    """What lets an edit re-index a shard without splitting its other articles again."""
    monkeypatch.setenv(SEARCH_SWITCH, "1")
    content, out = site(tmp_path)
    cli_build(content, out, search=True)
    config = load_config(None, content_dir=content, output_dir=out)
    state = Builder(config, cache_dir=out.parent / ".cache").state
    for src in state.sources.values():
        text = unpack_body(src.article, src.body)
        assert src.terms == search.article_terms(text)


def test_a_cache_made_without_search_gets_terms_from_a_build_with_search(tmp_path, monkeypatch):
    """Sources read with search off hold no terms; the first build with search counts them
    (once), and an edit then re-indexes its shard from them."""
    monkeypatch.setenv(SEARCH_SWITCH, "1")
    content, out = site(tmp_path)
    cli_build(content, out)
    config = load_config(None, content_dir=content, output_dir=out)
    sources = Builder(config, cache_dir=out.parent / ".cache").state.sources
    assert all(src.terms is None for src in sources.values())
    cli_build(content, out, search=True)
    sources = Builder(config, cache_dir=out.parent / ".cache").state.sources
    for src in sources.values():
        assert src.terms == search.article_terms(unpack_body(src.article, src.body))
    edit(content / "s04.md", story(4, "\nكلمةفريدةللبحث في آخر الخبر.\n"))
    result = cli_build(content, out, search=True)
    assert result.quick and result.groups == 1
    assert files(out) == fresh(content, tmp_path, search=True)


def test_a_missing_output_file_sends_a_body_edit_to_the_full_build(tmp_path: Path):
    content, out = site(tmp_path)
    cli_build(content, out)
    (out / "index.html").unlink()
    edit(content / "s01.md", story(1, "\nفقرة أخرى.\n"))
    result = cli_build(content, out)
    assert not result.quick and "index.html" in result.written
    assert files(out) == fresh(content, tmp_path)


def test_a_store_of_another_layout_is_started_afresh_and_filled_by_the_next_build(tmp_path: Path):
    """A page store written by another version (its schema number differs) is emptied, not
    read: the edit goes to the full build, which writes a row for every page again, kept
    pages included, so the edit after it is quick."""
    content, out = site(tmp_path, slug=True)
    cli_build(content, out)
    store = out.parent / ".cache" / "pages.sqlite"
    with sqlite3.connect(store) as db:
        db.execute("PRAGMA user_version = 1")
    db.close()
    edit(content / "s03.md", story(3, title="خبر رقم 3 من عمان بعد التحديث", slug=True))
    result = cli_build(content, out)
    assert not result.quick and result.rendered < 20  # most pages kept, their rows written
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT count(*) FROM pages").fetchone()[0]
    db.close()
    config = load_config(None, content_dir=content, output_dir=out, search=False)
    assert rows == len(Builder(config, cache_dir=out.parent / ".cache").state.page_keys)
    edit(content / "s03.md", story(3, title="خبر رقم 3 من عمان مرة ثانية", slug=True))
    assert cli_build(content, out).quick
    assert files(out) == fresh(content, tmp_path)


def test_a_scraped_story_pinned_by_the_manifest_keeps_its_address_when_retitled(tmp_path: Path):
    """Scraped text has no front matter: its slug comes from its first line, so a corrected
    headline moves it. A `slug` column in the manifest pins its address: the correction is
    then a quick build, and the same site a full build makes."""

    def scraped(i: int, title: str) -> str:
        place = PLACES[i % 5]
        return (
            f"{title}\n\nFacebook\nWhatsApp\n\n{place} - صحيفة\n\nفقرة عن {place} في الخبر {i}.\n"
        )

    content = make_content(
        tmp_path,
        {f"t{i}.txt": scraped(i, f"خبر منقول رقم {i} من {PLACES[i % 5]}") for i in range(6)},
    )
    manifest = tmp_path / "manifest.csv"
    rows = "".join(
        f"t{i}.txt,2025-03-0{i + 1}T10:00:00+03:00,منوعات,scraped-{i}\n" for i in range(6)
    )
    manifest.write_text("file,date,category,slug\n" + rows, "utf-8")
    out = tmp_path / "site"
    config = load_config(None, content_dir=content, output_dir=out, manifest=manifest, search=False)
    cache = tmp_path / ".cache"

    def build() -> BuildResult:
        report, taken = nothing_changed(config, cache)
        return report or Builder(config, cache_dir=cache, jobs=1).build(taken=taken)

    build()
    assert (out / "منوعات" / "scraped-2" / "index.html").is_file()
    edit(content / "t2.txt", scraped(2, "خبر منقول رقم 2 من بيروت بعد التصحيح"))
    result = build()
    assert result.quick and result.rendered > 1
    page = (out / "منوعات" / "scraped-2" / "index.html").read_text("utf-8")
    assert "خبر منقول رقم 2 من بيروت بعد التصحيح" in page
    fresh_out = tmp_path / "fresh" / "site"
    Builder(replace(config, output_dir=fresh_out), cache_dir=None).build()
    assert files(out) == files(fresh_out)
    manifest.write_text("file,date,category,slug\n" + rows.replace(",scraped-3", ",!!"), "utf-8")
    with pytest.raises(SahifaError, match="t3.txt.*the manifest's slug '!!'"):
        build()


def test_the_page_store_written_aside_serves_the_quick_build(tmp_path: Path, monkeypatch):
    """With workers, the page store is written by a forked process while the State is saved
    (`Builder._store_pages_aside`): it holds the same rows as one written in-process, and the
    quick build uses it. If that process fails, the build still completes, says so, and the
    next edit of a page whose row it did not bring up to date is built in full, correctly."""
    content, out = site(tmp_path)
    config = load_config(None, content_dir=content, output_dir=out, search=False)
    Builder(config, cache_dir=tmp_path / ".cache", jobs=2).build()
    other = tmp_path / "one" / "site"
    Builder(replace(config, output_dir=other), cache_dir=other.parent / ".cache", jobs=1).build()

    def rows(db: Path) -> list[tuple]:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT file, refs, data FROM pages ORDER BY file").fetchall()

    assert rows(tmp_path / ".cache" / "pages.sqlite") == rows(
        other.parent / ".cache" / "pages.sqlite"
    )
    edit(content / "s04.md", story(4, "\nفقرة أضيفت.\n"))
    assert cli_build(content, out).quick

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Builder, "_store_pages", broken)
    edit(content / "s05.md", story(5, title="عنوان آخر تماما"))  # a full build
    warned: list[str] = []
    monkeypatch.setattr("sahifa.incremental.log.warning", lambda msg, *a: warned.append(msg % a))
    Builder(config, cache_dir=tmp_path / ".cache", jobs=2).build()
    assert warned and "page store" in warned[0]
    monkeypatch.undo()
    # s05's row is the old title's: not under the saved page key, so not used.
    edit(content / "s05.md", story(5, "\nفقرة أخرى.\n", title="عنوان آخر تماما"))
    assert not cli_build(content, out).quick
    assert files(out) == fresh(content, tmp_path)
