"""Property-based tests: any bytes or text give an Article or a ContentError, never another
exception; slugs are always safe file names. bench/fuzz_readers.py runs the long session."""

from __future__ import annotations

import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sahifa.errors import ContentError
from sahifa.model import Article
from sahifa.readers import read_article
from sahifa.urls import MAX_SLUG_BYTES, is_safe_segment, slugify

SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

PIECES = [
    "---\n", "title: ", "date: ", "section: ", "slug: ", "entities: ", "draft: ", "tags: ",
    "[", "]", "{", "}", ", ", "- ", "> ", "# ", "## ", "\n", "\n\n", "\r\n", "\r", ":", '"',
    "<script>alert(1)</script>", "[x](javascript:alert(1))", "..", "/", "\\", "%2e%2e", "con",
    "2024-10-04", "2024-13-45", "yesterday", "no", "&a ", "*a", "\ufeff", "\x00", "\u0640",
    "عنوان", "مُحَمَّد", "دمشق", "فيسبوك", "مقالات ذات صلة", "خاص - SY24", "😀", "١٢٣",
]  # fmt: skip
shaped = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=40).map("".join)
texts = st.one_of(st.text(max_size=300), shaped)


@st.composite
def raw_files(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=400))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1256"]))
    return draw(texts).encode(encoding, errors="replace")


def check(name: str, raw: bytes) -> Article | None:
    try:
        art = read_article(name, raw)
    except ContentError as exc:
        assert exc.path == name and str(exc).startswith(name)
        assert exc.line is None or exc.line >= 1
        return None
    assert isinstance(art, Article) and art.title
    assert is_safe_segment(art.slug) and len(art.slug.encode()) <= MAX_SLUG_BYTES
    assert slugify(art.section)
    assert "<script" not in art.body_html.lower()
    return art


@SETTINGS
@given(raw=raw_files(), suffix=st.sampled_from([".md", ".txt"]))
def test_read_article_on_any_bytes(raw: bytes, suffix: str):
    check("any" + suffix, raw)


@SETTINGS
@given(text=texts)
def test_read_article_on_front_matter_shaped_text(text: str):
    check("shaped.md", ("---\n" + text).encode())
    check("shaped.txt", text.encode())


@SETTINGS
@given(title=st.text(min_size=1, max_size=200), body=st.text(max_size=200))
def test_line_endings_and_normal_forms_do_not_change_the_article(title: str, body: str):
    source = f"---\ntitle: {title!r}\n---\n{body}".replace("\\", "/")
    base = check("a.md", source.encode())
    for variant in (
        source.replace("\n", "\r\n"),
        unicodedata.normalize("NFD", source),
        "\ufeff" + source,
    ):
        other = check("a.md", variant.encode())
        assert (other is None) == (base is None)
        if base is not None and other is not None:
            assert (other.title, other.slug) == (base.title, base.slug)


@SETTINGS
@given(text=texts, ascii_only=st.booleans())
def test_slugify_is_always_a_safe_segment(text: str, ascii_only: bool):
    slug = slugify(text, ascii_only)
    assert slug == "" or is_safe_segment(slug)
    assert len(slug.encode()) <= MAX_SLUG_BYTES
    assert not slug.startswith(("-", ".")) and not slug.endswith(("-", "."))
    assert slugify(slug, ascii_only) == slug
    assert slugify(unicodedata.normalize("NFD", text), ascii_only) == slug
    if ascii_only:
        assert slug.isascii()


@SETTINGS
@given(text=texts)
def test_packed_tokens_come_back_as_they_were(text: str):
    """What the read worker ships to extraction (model.pack_columns) is the text's tokens."""
    from sahifa.arabic import token_columns
    from sahifa.model import pack_columns, unpack_columns

    cols = token_columns(text)
    packed = pack_columns(cols)
    assert packed is not None  # any text fits: offsets under 2**32, no NUL inside a token
    assert unpack_columns(packed) == cols


KEYS = ["title", "date", "slug", "section", "entities", "tags", "draft", "lang", "other", "on"]
VALUES = [
    '"نص"', '"a: b # c"', '"x\\"y"', '"a\\\\b"', '"tab\tin"', '""', '"', 'x"', '"\u200f"',
    "[]", '["a", "b"]', '[ "a" ,"b" ]', '["a", ]', "[a]", '["a, b"]', '["a", "b, c"]',
    "a000001", "yes", "No", "on", "null", "~", "123", "0x1F", "1_000", "3.5", ".inf", "<<",
    "=", "-a", "a-b", "كلمة", "كلمة أخرى", "a: b", "a #b", "a#b", "٢٠٢٤", "2024-10-04",
    "2024-10-04T09:30:00+03:00", "2024-10-04T09:30:00Z", "2024-02-30T09:30:00Z",
    "2024-10-04T24:00:00", "2024-10-04 09:30:00", "2024-10-04T09:30:00.5Z", "&a", "*a", "!x",
    "|", ">", "'q'", "{a: b}", "a\u0085b", "", "true", "False", "OFF", "y", "2024-13-01",
    "قمة [حلب]", "قمة, دمشق", "a b  c", "a:b", "a :b", "a:", "[حلب, دمشق]", "[كرة القدم, 2024]",
    "[a: b]", "[a #b]", "[a#b]", "[yes, no]", "[[a]]", "[a, [b]]", "[a", "a]", "[~]", "[-a]",
    "[a, \"b\"]", "[\"a\", b c]", "[a b, ]", "[2024-01-01]", "%a", "a%", "@a", "`a", "?a",
]  # fmt: skip
front_lines = st.one_of(
    st.builds(lambda k, v, pad: f"{k}:{pad}{v}", st.sampled_from(KEYS), st.sampled_from(VALUES),
              st.sampled_from([" ", "  ", "", "\t"])),
    st.sampled_from(["", "  ", "# note", "  title: x", "- a"]),
    st.text(max_size=20),
)  # fmt: skip


@SETTINGS
@given(lines=st.lists(front_lines, max_size=8))
def test_plain_front_matter_reads_as_yaml_does(lines: list[str]):
    """`readers._plain_front_matter` (the quick path for simple front matter) gives what
    YAML gives, or declines."""
    import yaml

    from sahifa.readers import _plain_front_matter, _yaml_loader

    block = "\n".join(lines)
    quick = _plain_front_matter(block)
    if quick is None:
        return
    try:
        slow = yaml.load(block, Loader=_yaml_loader(block)) if block.strip() else {}
    except yaml.YAMLError:
        raise AssertionError(f"accepted what YAML refuses: {block!r}") from None
    assert repr(quick) == repr(slow)  # types, time zones and order too


PROSE_PIECES = [
    "كلمة", "الرئيس", " ", "  ", "\n", "\n\n", "\n \n", "# ", "## ", "### ", "#### ", "###### ",
    "####### ", "#", "##x", "- ", "-", "+ ", "* ", "1. ", "2) ", "١. ", "> ", ">", "=", "===",
    "---", "***", "_", "[", "]", "(", ")", "!", "![x](y)", "&amp;", "<b>", "|", "\t", "\u00a0",
    "+961 1 234 567", "00963 11 123", "2005", "COVID-19", "Yahoo!", "J. Smith", "iPhone 17",
    "AT&T", ":", "،", "؟", ".", "مُحَمَّد", "\u200f", "Hello world", "\\", "`", "~~", "٪",
    "http://example.org", '"', "'", "  \n", " #", "# x #",
]  # fmt: skip
PLAIN_PIECES = [
    "كلمة", "الرئيس", " ", "\n", "\n\n", "\n \n", "\n# ", "\n## ", "\n### ", "\n#### ", "!",
    "(", ")", ":", "،", ".", "2005", "Yahoo!", "J. Smith", "+961 1 234 567", "Ωμέγα", "=", "-",
]  # fmt: skip
prose = st.one_of(
    st.lists(st.sampled_from(PROSE_PIECES), max_size=30).map("".join),
    st.lists(st.sampled_from(PLAIN_PIECES), max_size=40).map("".join),  # mostly accepted
)


@SETTINGS
@given(body=prose)
def test_prose_renders_as_markdown_it_renders_it(body: str):
    """`markdown.render_prose` (plain paragraphs and headings without markdown-it) gives the
    HTML, headings and text that markdown-it gives, or declines."""
    from sahifa.markdown import _render_tokens, make_parser, render_prose

    quick = render_prose(body)
    if quick is not None:
        assert quick == _render_tokens(make_parser(), body, "", 1)
