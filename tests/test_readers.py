"""The reader stage: bytes -> Article, for Markdown and scraped text."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from sahifa.errors import ContentError
from sahifa.readers import is_heading, parse_scraped, read_article

from .conftest import SEED

SEED_HEADINGS = [
    "استمرار القصف الجوي والمدفعي",
    "تدريبات مشتركة وتعزيزات عسكرية",
    "تحليل عسكري: التنسيق بين إسرائيل وواشنطن",
    "تصاعد الهجمات على التحالف",
    "التصعيد مستمر في دير الزور",
]


def test_seed_golden():
    art = read_article("seed.txt", SEED.read_bytes())
    assert art.title == "قوات التحالف تكثف ضرباتها في دير الزور"
    assert art.byline == "خاص - SY24"
    assert [h.title for h in art.headings] == SEED_HEADINGS
    soup = BeautifulSoup(art.body_html, "html.parser")
    assert [h.get_text().rstrip("#") for h in soup.find_all("h2")] == SEED_HEADINGS
    body = soup.get_text()
    for word in ("Facebook", "WhatsApp", "Telegram", "مقالات ذات صلة", "خاص - SY24"):
        assert word not in body
    paragraphs = soup.find_all("p")
    assert len(paragraphs) == 10
    assert paragraphs[0].get_text().startswith("تستمر قوات التحالف الدولي")
    # Every heading has a stable id and a visible link to it.
    for h in soup.find_all("h2"):
        assert h.find("a", class_="anchor")["href"] == "#" + h["id"]


def test_markdown_front_matter():
    src = """---
title: "عنوان المقال"
date: 2024-10-04T09:30:00+03:00
section: ثقافة
author: ليلى
entities: [دمشق, حلب]
tags: [مهرجان]
---
فقرة أولى.

## قسم أول

نص القسم. <script>alert(1)</script>
"""
    art = read_article("a.md", src.encode())
    assert art.title == "عنوان المقال"
    assert art.section == "ثقافة"
    assert art.date.isoformat() == "2024-10-04T09:30:00+03:00"
    assert art.declared_entities == ("دمشق", "حلب")
    assert art.slug == "عنوان-المقال"
    assert art.summary == "فقرة أولى."
    soup = BeautifulSoup(art.body_html, "html.parser")
    assert soup.find("script") is None
    assert soup.find("h2")["id"] == "قسم-أول"


def test_section_from_folder_and_default():
    assert read_article("رياضة/x.txt", "عنوان\n\nنص.\n".encode()).section == "رياضة"
    assert read_article("x.txt", "عنوان\n\nنص.\n".encode(), default_section="عام").section == "عام"


def test_heading_rules():
    para = "هذه فقرة طويلة بما يكفي لتكون فقرة حقيقية في المقال وفيها كلمات كثيرة جدا."
    assert is_heading("تصاعد الهجمات على التحالف", para)
    assert is_heading("تحليل عسكري: التنسيق بين إسرائيل وواشنطن:", para)
    assert not is_heading("وقال الوزير:", para)  # a quote introduction, not a heading
    assert not is_heading("انتهى الاجتماع مساء أمس.", para)  # a sentence
    assert not is_heading("عنوان قصير", None)  # nothing follows
    assert not is_heading("عنوان قصير", "سطر قصير")  # a heading needs a paragraph after it


def test_related_block_cut_and_share_lines_dropped():
    lines = [
        "العنوان",
        "Facebook",
        "Twitter",
        "خاص - وكالة",
        "فقرة أولى طويلة.",
        "مقالات ذات صلة",
        "مقال آخر",
    ]
    title, byline, blocks = parse_scraped(lines)
    assert (title, byline) == ("العنوان", "خاص - وكالة")
    assert blocks == [("p", "فقرة أولى طويلة.")]


@pytest.mark.parametrize(
    ("raw", "line", "fragment"),
    [
        (b"---\ntitle: x\n", 1, "never closed"),
        (b"---\ntitle: [x\n---\nbody\n", 3, "not valid YAML"),
        (b"---\n- a\n- b\n---\nbody\n", 2, "mapping"),
        ("عنوان\n\nنص\n".encode() + b"\xff\xfe bad\n", 4, "UTF-8"),
        (b"", 1, "empty"),
        (b"---\ntitle: x\ndate: yesterday\n---\nbody\n", 3, "not a date"),
    ],
)
def test_errors_name_file_and_line(raw, line, fragment):
    with pytest.raises(ContentError) as info:
        read_article("bad.md", raw)
    assert info.value.path == "bad.md"
    assert info.value.line == line
    assert fragment in str(info.value)


def test_body_images_load_lazily():
    art = read_article(
        "img.md", "---\ntitle: صور\n---\nنص.\n\n![سوق حلب](/img/souk.jpg)\n".encode()
    )
    img = BeautifulSoup(art.body_html, "html.parser").find("img")
    assert (img["src"], img["alt"], img["loading"], img["decoding"]) == (
        "/img/souk.jpg",
        "سوق حلب",
        "lazy",
        "async",
    )


def test_the_sample_front_matter_is_read_without_yaml_and_means_the_same():
    """`_plain_front_matter` reads the usual front matter (Arabic text, [حلب, دمشق] lists,
    dates) itself; what it reads is what YAML reads. Its property test is in test_properties."""
    import yaml

    from sahifa.readers import _plain_front_matter, _yaml_loader

    from .conftest import ROOT

    blocks = []
    for path in sorted((ROOT / "content").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        blocks.append(text[4 : text.index("\n---", 4)])
    assert len(blocks) >= 10
    for block in blocks:
        quick = _plain_front_matter(block)
        assert quick is not None, block
        assert repr(quick) == repr(yaml.load(block, Loader=_yaml_loader(block)))
    assert _plain_front_matter("title: x\nauthor:\n  - a") is None  # anything else: YAML


def test_plain_prose_skips_markdown_it_and_renders_the_same():
    """Bodies of plain paragraphs and headings (most of the sample site) are rendered by
    `markdown.render_prose`, byte for byte what markdown-it makes of them; anything with
    Markdown syntax goes to markdown-it."""
    from sahifa.markdown import _render_tokens, make_parser, render_prose
    from sahifa.readers import split_front_matter

    from .conftest import ROOT

    md, quick = make_parser(), 0
    for path in sorted((ROOT / "content").glob("*.md")):
        body = split_front_matter(path.name, path.read_text(encoding="utf-8"))[1]
        prose = render_prose(body)
        if prose is not None:
            quick += 1
            assert prose == _render_tokens(md, body, path.name, 1)
    assert quick >= 10
    for markdown in ["نص **مهم**", "[رابط](https://example.org)", "- بند", "1. بند", "> قول"]:
        assert render_prose(markdown) is None
