"""Hostile and broken input: never a traceback, always a message naming the file (and line),
never a write outside the output folder. The rules are documented in docs/content-errors.md."""

from __future__ import annotations

import codecs
import logging
import os
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from sahifa.cli import main
from sahifa.config import load_config
from sahifa.errors import ConfigError, ContentError
from sahifa.pipeline import build
from sahifa.readers import MAX_LIST_ITEMS, read_article
from sahifa.urls import MAX_SLUG_BYTES, is_safe_segment, slugify

from .conftest import ROOT, make_content

FM = "---\ntitle: عنوان المقال\ndate: 2024-05-01T10:00:00+03:00\n---\n"
BODY = "نص المقال الأول في الصفحة.\n"


def fm(**keys: str) -> str:
    keys.setdefault("title", "عنوان المقال")
    return "---\n" + "".join(f"{k}: {v}\n" for k, v in keys.items()) + "---\n" + BODY


def error_of(raw: bytes, name: str = "bad.md") -> ContentError:
    with pytest.raises(ContentError) as info:
        read_article(name, raw)
    assert info.value.path == name and str(info.value).startswith(name)
    return info.value


def run_cli(tmp_path: Path, capsys, caplog, *args: str) -> tuple[int, str]:
    """The CLI in-process: its exit code and everything it told the user."""
    caplog.set_level(logging.INFO, logger="sahifa")
    caplog.clear()
    code = main(["--content", str(tmp_path / "content"), "--output", str(tmp_path / "site"),
                 "--config", str(tmp_path / "site.toml"), *args])  # fmt: skip
    captured = capsys.readouterr()
    return code, captured.err + captured.out + caplog.text


def files_outside(tmp_path: Path) -> list[str]:
    """Every file the build made outside content/, site/ and its cache."""
    allowed = ("content", "site", ".sahifa-cache", "site.toml", "templates")
    return sorted(
        p.relative_to(tmp_path).as_posix()
        for p in tmp_path.rglob("*")
        if p.is_file() and p.relative_to(tmp_path).parts[0] not in allowed
    )


# Encoding -----------------------------------------------------------------------------------------


def test_invalid_utf8_names_line_and_byte():
    raw = FM.encode() + "سطر أول\nسطر ".encode() + b"\xff\xfe\n"
    exc = error_of(raw)
    assert exc.line == 6
    offset = raw.index(b"\xff")
    assert f"byte {offset}" in exc.message and "UTF-8" in exc.message


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: codecs.BOM_UTF8 + t.encode(),
        lambda t: t.encode("utf-16"),  # with BOM, machine order
        lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
        lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"),
    ],
    ids=["utf8-bom", "utf16", "utf16-be", "utf16-le"],
)
def test_boms_are_read(encode):
    art = read_article("a.md", encode(FM + BODY))
    assert art.title == "عنوان المقال" and "نص المقال" in art.body_html
    assert "\ufeff" not in art.title + art.body_html


def test_utf16_without_bom_and_nul_bytes():
    exc = error_of((FM + BODY).encode("utf-16-le"))
    assert "NUL" in exc.message and "UTF-16" in exc.message
    exc = error_of(FM.encode() + b"a\nb\x00c\n")
    assert exc.line == 6 and "NUL" in exc.message


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_crlf_and_lone_cr_read_like_lf(newline: str):
    text = FM + "## قسم أول\n\nفقرة أولى.\nتكملة.\n\nفقرة ثانية.\n"
    lf = read_article("a.md", text.encode())
    other = read_article("a.md", text.replace("\n", newline).encode())
    assert (other.title, other.body_html, other.headings) == (lf.title, lf.body_html, lf.headings)
    assert "\r" not in other.body_html


def test_nfc_and_nfd_titles_give_one_slug(tmp_path: Path):
    title = "إطلاق مؤتمر الآثار في حلب"
    nfd = unicodedata.normalize("NFD", title)
    assert nfd != title
    assert slugify(nfd) == slugify(title)
    arts = [read_article("a.md", fm(title=t).encode()) for t in (title, nfd)]
    assert arts[0].slug == arts[1].slug and arts[0].title == arts[1].title
    # The same title in two forms is one title: the second article gets '-2', not a twin.
    content = make_content(tmp_path, {"a.md": fm(title=title), "b.md": fm(title=nfd)})
    build(load_config(None, content_dir=content, output_dir=tmp_path / "site"))
    section = tmp_path / "site" / slugify("أخبار")
    assert sorted(p.name for p in section.iterdir() if p.is_dir() and p.name != "page") == [
        slugify(title),
        slugify(title) + "-2",
    ]


# Shape --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "line", "fragment"),
    [
        (b"", 1, "empty"),
        (b"  \n\t\n \r\n", 1, "empty"),
        (b"---\ndate: 2024-01-01\n---\nbody\n", 1, "no title"),
        (b"---\ntitle: x\nbody\n", 1, "never closed"),
        (b"---\n", 1, "never closed"),
        (b"---\n- a\n- b\n---\nbody\n", 2, "mapping"),
        (b"---\njust text\n---\nbody\n", 2, "mapping"),
        (b"---\ntitle: x\ndate: yesterday\n---\nbody\n", 3, "not a date"),
        (b"---\ntitle: x\ndate: 2024-13-45\n---\nbody\n", 3, "not a real date"),
        (b"---\ntitle: x\ntags: [a, 2024-02-30]\n---\nbody\n", 3, "not a real date"),
        (b"---\ntitle: x\ndate: 2024\n---\nbody\n", 3, "expected a date"),
        (b"---\ntitle: x\nentities: 5\n---\nbody\n", 3, "expected a list"),
        (b"---\ntitle: x\ntags: [[a]]\n---\nbody\n", 3, "expected text"),
        (b'---\ntitle: x\ndraft: "no"\n---\nbody\n', 3, "true or false"),
        (b"---\ntitle: [a, b]\n---\nbody\n", 2, "expected text"),
        (b"---\ntitle: x\nsummary: {a: 1}\n---\nbody\n", 3, "expected text"),
        (b"---\ntitle: !!python/object:os.system x\n---\nbody\n", 2, "not valid YAML"),
        (b"---\ntitle: x\nimage: javascript:alert(1)\n---\nbody\n", 3, "image"),
    ],
)
def test_shape_errors_name_file_and_line(raw: bytes, line: int, fragment: str):
    exc = error_of(raw)
    assert exc.line == line, exc
    assert fragment in exc.message


def test_title_only_is_an_article_with_a_warning(caplog):
    caplog.set_level(logging.WARNING, logger="sahifa")
    art = read_article("a.md", b"---\ntitle: x\n---\n")
    assert art.title == "x" and art.words == 0
    assert "a.md: the article has a title but no text" in caplog.text
    art = read_article("a.txt", "عنوان فقط\n".encode())
    assert art.title == "عنوان فقط"


def test_unknown_keys_warn_with_line(caplog):
    caplog.set_level(logging.WARNING, logger="sahifa")
    read_article("a.md", fm(titel="خطأ إملائي", autor="x").encode())
    assert "a.md:2: unknown front matter key 'titel'" in caplog.text
    assert "a.md:3: unknown front matter key 'autor'" in caplog.text


def test_future_and_draft_articles_are_held_back(tmp_path: Path, capsys, caplog):
    make_content(
        tmp_path,
        {
            "now.md": fm(title="منشور"),
            "later.md": fm(title="مجدول", date="2999-01-01T00:00:00Z"),
            "draft.md": fm(title="مسودة", draft="true"),
        },
    )
    pages = {"منشور": "منشور", "مجدول": "مجدول", "مسودة": "مسودة"}

    def published() -> set[str]:
        section = tmp_path / "site" / "أخبار"
        return {t for t, slug in pages.items() if (section / slug / "index.html").exists()}

    code, out = run_cli(tmp_path, capsys, caplog, "-v")
    assert code == 0 and published() == {"منشور"}
    assert "later.md: scheduled for 2999-01-01" in out and "--future" in out
    code, _ = run_cli(tmp_path, capsys, caplog, "--future", "--drafts")
    assert code == 0 and published() == set(pages)


# Size ---------------------------------------------------------------------------------------------


def timed(name: str, raw: bytes, limit: float = 20.0):
    t0 = time.perf_counter()
    try:
        result = read_article(name, raw)
    finally:
        assert time.perf_counter() - t0 < limit, f"{name}: {time.perf_counter() - t0:.1f} s"
    return result


def test_ten_megabyte_article_and_long_line():
    para = ("كلمة عربية في فقرة طويلة من مقال كبير جداً " * 40).strip() + ".\n\n"
    raw = (FM + para * (10_000_000 // len(para.encode()))).encode()
    assert len(raw) >= 9_900_000
    art = timed("big.md", raw, limit=40)
    assert art.words > 1_000_000
    line = FM + "ب" * 100_000 + "\n"
    assert timed("line.md", line.encode()).body_html.count("ب") == 100_000
    assert timed("line.txt", ("عنوان\n" + "ب " * 50_000).encode()).title == "عنوان"


@pytest.mark.parametrize(
    "body",
    [
        "> " * 10_000 + "x\n",
        "- " * 10_000 + "x\n",
        "1. " * 10_000 + "x\n",
        "> - " * 5_000 + "x\n",
        "".join(" " * (2 * i) + "- x\n" for i in range(1_000)),
        "".join(">" * i + " x\n" for i in range(2_000)),
        "*" * 10_000 + "x" + "*" * 10_000,
        "[" * 10_000 + "x" + "](u)" * 10_000,
    ],
    ids=["quotes", "bullets", "ordered", "mixed", "indented", "quote-lines", "emphasis", "links"],
)
def test_deep_nesting_is_neither_a_crash_nor_slow(body: str):
    art = timed("deep.md", (FM + body).encode())
    assert art.body_html.count("<blockquote>") <= 60 and art.body_html.count("<ul>") <= 60


def test_text_cut_by_the_nesting_limit_is_reported(caplog):
    caplog.set_level(logging.WARNING, logger="sahifa")
    art = read_article("ok.md", (FM + "> " * 40 + "ظاهر\n").encode())
    assert "ظاهر" in art.body_html and "nested" not in caplog.text
    art = read_article("deep.md", (FM + "مقدمة.\n\n" + "> " * 60 + "مخفي\n").encode())
    assert "مقدمة" in art.body_html and "مخفي" not in art.body_html
    assert "deep.md:7: Markdown nested more than 50 levels deep" in caplog.text


def test_many_entities_in_front_matter():
    names = ", ".join(f"كيان {i}" for i in range(100_000))
    exc = error_of(f"---\ntitle: x\nentities: [{names}]\n---\nbody\n".encode())
    assert exc.line == 3 and f"at most {MAX_LIST_ITEMS}" in exc.message and "100000" in exc.message
    names = ", ".join(f"كيان {i}" for i in range(MAX_LIST_ITEMS))
    art = timed("ok.md", f"---\ntitle: x\nentities: [{names}]\n---\nbody\n".encode())
    assert len(art.declared_entities) == MAX_LIST_ITEMS


def test_front_matter_nested_100000_deep_does_not_crash_the_interpreter():
    """libyaml composes with C recursion: this input used to kill Python with SIGSEGV."""
    code = (
        "from sahifa.readers import read_article\n"
        "from sahifa.errors import ContentError\n"
        "for deep in ('[' * 100000 + ']' * 100000, '{a: ' * 50000 + '1' + '}' * 50000,\n"
        "             ''.join(' ' * i + '- \\n' for i in range(3000))):\n"
        "    try:\n"
        "        read_article('deep.md', ('---\\ntitle: x\\nx: ' + deep + '\\n---\\nb').encode())\n"
        "    except ContentError as exc:\n"
        "        print(exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "deep.md:1: front matter is nested too deeply" in result.stdout


# Names --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["..", "../../etc", "/", "\\", "/etc/passwd", "..\\..\\windows", "%2e%2e", "%2e%2e%2f",
     "a\\u0000b", "CON", "nul", "com1", "LPT9", "aux.txt", "...", ". .", "-", "😀😀", "!!!", "۞"],
)  # fmt: skip
def test_hostile_slugs_and_sections_stay_inside_the_site(tmp_path: Path, value: str):
    quoted = '"' + value.replace("\\", "\\\\").replace("\\\\u0000", "\\u0000") + '"'
    content = make_content(
        tmp_path,
        {
            "a.md": fm(title="مقال أول", slug=quoted),
            "b.md": fm(title="مقال ثان", section=quoted),
            "c.md": fm(title=quoted),
            "d.md": fm(title="مقال رابع", author=quoted, entities=f"[{quoted}]"),
        },
    )
    config = load_config(None, content_dir=content, output_dir=tmp_path / "site")
    try:
        build(config, keep_going=True)
    except ContentError as exc:  # pragma: no cover - keep_going reports, never raises
        pytest.fail(str(exc))
    assert files_outside(tmp_path) == []
    for path in (tmp_path / "site").rglob("*"):
        rel = path.relative_to(tmp_path / "site")
        for part in rel.parts:
            assert is_safe_segment(part) and len(part.encode()) < 255, rel
            assert part.split(".")[0].lower() not in ("con", "nul", "aux", "com1", "lpt9"), rel


@pytest.mark.parametrize("value", ["..", "!!!", "😀", "...", "-"])
def test_slug_with_nothing_left_is_an_error(value: str):
    exc = error_of(fm(slug=f'"{value}"').encode())
    assert exc.line == 2 and "no letters or digits" in exc.message
    exc = error_of(fm(section=f'"{value}"').encode())
    assert exc.line == 2 and "no letters or digits" in exc.message


def test_title_with_no_letters_falls_back_to_the_file_name():
    assert read_article("خبر-عاجل.md", fm(title="😀😀").encode()).slug == "خبر-عاجل"
    exc = error_of(fm(title='"!!!"').encode(), name="؟؟.md")
    assert "add 'slug:'" in exc.message


@pytest.mark.parametrize("letter", ["ك", "𠀀", "a", "ـكـ"])
def test_long_titles_make_short_enough_file_names(letter: str):
    for title in (letter * 300, " ".join([letter * 7] * 60)):
        slug = read_article("a.md", fm(title=title).encode()).slug
        assert slug and len(slug.encode()) <= MAX_SLUG_BYTES < 255


def test_duplicate_slugs(tmp_path: Path, capsys, caplog):
    make_content(
        tmp_path,
        {
            "a.md": fm(title="أ", slug="same"),
            "b.md": fm(title="ب", slug="same"),
            "c.md": fm(title="عنوان"),
            "d.md": fm(title="عنوان"),
        },
    )
    code, out = run_cli(tmp_path, capsys, caplog)
    assert code == 1 and "b.md: slug 'same' is already used by a.md" in out
    assert not (tmp_path / "site").exists()
    code, out = run_cli(tmp_path, capsys, caplog, "--keep-going")
    assert code == 3 and "b.md: slug 'same' is already used by a.md (skipped)" in out
    news = tmp_path / "site" / "أخبار"
    assert {"same", "عنوان", "عنوان-2"} <= {p.name for p in news.iterdir()}
    page = BeautifulSoup((news / "same" / "index.html").read_text("utf-8"), "html.parser")
    assert page.h1 is not None and page.h1.get_text(strip=True) == "أ"


def test_symlinks_out_of_content_are_refused(tmp_path: Path, capsys, caplog):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(fm(title="سر خارجي"), encoding="utf-8")
    content = make_content(tmp_path, {"ok.md": fm(title="مقال عادي")})
    (content / "link.md").symlink_to(outside / "secret.md")
    (content / "folder").symlink_to(outside, target_is_directory=True)
    (content / "inside.md").symlink_to(content / "ok.md")  # inside: an ordinary duplicate
    code, out = run_cli(tmp_path, capsys, caplog)
    assert code == 1 and "link.md: is a link to a file outside the content folder" in out
    code, out = run_cli(tmp_path, capsys, caplog, "--keep-going")
    assert code == 3 and "link.md: is a link to a file outside the content folder" in out
    site_text = b"".join(p.read_bytes() for p in (tmp_path / "site").rglob("*.html"))
    assert "سر خارجي".encode() not in site_text and "مقال عادي".encode() in site_text


# The command line ---------------------------------------------------------------------------------

BROKEN = {
    "utf8.md": FM.encode() + b"\xc3\x28",
    "nul.txt": b"title\x00",
    "yaml.md": b"---\ntitle: [\n---\n",
    "shape.md": b"---\n- a\n---\n",
    "date.md": b"---\ntitle: x\ndate: 2024-02-30\n---\nb",
    "empty.md": b"",
    "deep.md": b"---\ntitle: x\nx: " + b"[" * 5000 + b"\n---\n",
}


def test_keep_going_skips_reports_and_exits_3(tmp_path: Path, capsys, caplog):
    make_content(tmp_path, {"good.md": fm(title="مقال سليم"), **BROKEN})
    code, out = run_cli(tmp_path, capsys, caplog)
    assert code == 1 and "Traceback" not in out
    assert out.count("error: ") == 1 and "date.md:" in out  # the first, in file-name order
    assert not (tmp_path / "site").exists()
    code, out = run_cli(tmp_path, capsys, caplog, "--keep-going")
    assert code == 3 and "Traceback" not in out
    for name in BROKEN:
        assert f"{name}:" in out and "(skipped)" in out, name
    assert f"{len(BROKEN)} article(s) skipped" in out
    assert (tmp_path / "site" / "أخبار" / "مقال-سليم" / "index.html").exists()


def test_failed_build_leaves_the_previous_site_alone(tmp_path: Path, capsys, caplog):
    make_content(tmp_path, {"good.md": fm(title="مقال سليم")})
    assert run_cli(tmp_path, capsys, caplog)[0] == 0
    before = {p: p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file()}
    for name, raw in BROKEN.items():
        (tmp_path / "content" / name).write_bytes(raw)
        code, out = run_cli(tmp_path, capsys, caplog)
        assert code == 1 and f"error: {name}:" in out and "Traceback" not in out, out
        after = {p: p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file()}
        assert after == before, name
        (tmp_path / "content" / name).unlink()


def test_unreadable_content_is_an_error_not_a_traceback(tmp_path: Path, capsys, caplog):
    code, out = run_cli(tmp_path, capsys, caplog)
    assert code == 1 and "content folder not found" in out
    make_content(tmp_path, {"a.md": fm()})
    (tmp_path / "site").write_text("a file where the site folder goes", encoding="utf-8")
    code, out = run_cli(tmp_path, capsys, caplog)
    assert code == 1 and "Traceback" not in out and "is not a folder" in out
    assert (tmp_path / "site").read_text("utf-8") == "a file where the site folder goes"


def test_output_folder_that_would_swallow_the_content_is_refused(tmp_path: Path, capsys, caplog):
    content = make_content(tmp_path, {"a.md": fm()})
    for output in (content, tmp_path, content / "..", Path("/")):
        code = main(["--content", str(content), "--output", str(output), "--no-cache"])
        out = capsys.readouterr().err
        assert code == 1 and "output folder" in out and "Traceback" not in out, output
        assert (content / "a.md").read_text("utf-8") == fm()
    with pytest.raises(ConfigError, match="content folder"):
        build(load_config(None, content_dir=content, output_dir=content))


# User templates -----------------------------------------------------------------------------------

ARTICLE_TEMPLATE = """{% extends "base.html" %}
{% block title %}{{ article.title }}{% endblock %}
{% block main %}
<h1>{{ article.title }}</h1>
LINE5
{% endblock %}
"""


def build_with_article_template(tmp_path: Path, capsys, caplog, line5: str) -> tuple[int, str]:
    """Build one article with a site template whose line 5 is `line5`; (exit code, output)."""
    make_content(tmp_path, {"a.md": fm()})
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "article.html").write_text(ARTICLE_TEMPLATE.replace("LINE5", line5), "utf-8")
    (tmp_path / "site.toml").write_text('title = "موقع"\n', encoding="utf-8")
    return run_cli(tmp_path, capsys, caplog, "--no-cache")


@pytest.mark.parametrize(
    ("line5", "fragment"),
    [
        ("<p>{{ article.title }</p>", "unexpected '}'"),
        ("{% if article.title %}<p>x</p>", "endif"),
        ("<p>{{ no_such_variable }}</p>", "'no_such_variable' is undefined"),
        ("<p>{{ article.no_such_field }}</p>", "no_such_field"),
        ("<p>{{ article.title|no_such_filter }}</p>", "no_such_filter"),
    ],
)
def test_user_template_errors_name_file_and_line(
    tmp_path: Path, capsys, caplog, line5: str, fragment: str
):
    code, out = build_with_article_template(tmp_path, capsys, caplog, line5)
    assert code == 1 and "Traceback" not in out
    assert "article.html:5" in out or "article.html:6" in out, out  # endif: the end of file
    assert fragment in out


@pytest.mark.parametrize(
    "line5",
    ["<p>{{ 1 // 0 }}</p>", "<p>{{ article.title + 5 }}</p>", "{% for x in 5 %}{% endfor %}"],
)
def test_user_template_runtime_errors_name_file_and_line(
    tmp_path: Path, capsys, caplog, line5: str
):
    code, out = build_with_article_template(tmp_path, capsys, caplog, line5)
    assert code == 1 and "Traceback" not in out
    assert "article.html:5" in out, out
