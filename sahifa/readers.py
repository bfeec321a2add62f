"""Read one content file (Markdown or scraped text) into an `Article`.

Readers never touch templates; they only turn bytes into the article model.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import PurePosixPath
from typing import Any

import yaml

from .arabic import normalize, text_direction
from .bidi import isolate
from .errors import ContentError
from .markdown import _validate_link, anchor_link, make_parser, render_markdown, unique_anchor
from .model import Article, Heading
from .urls import slugify

log = logging.getLogger("sahifa")
# libyaml's safe loader when PyYAML was built with it: the same results, many times faster.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

KNOWN_KEYS = {
    "title", "date", "updated", "author", "byline", "section", "summary", "image",
    "entities", "tags", "slug", "draft", "lang", "featured",
}  # fmt: skip


# Each declared entity or tag gets a page: a list this long is a mistake, not an article.
MAX_LIST_ITEMS = 500


# Decoding -----------------------------------------------------------------------------------------


def decode(path: str, raw: bytes) -> str:
    """Bytes to NFC text with '\\n' line ends. UTF-8 (with or without BOM) and UTF-16 with BOM."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = raw.decode("utf-16").lstrip("\ufeff")
        except UnicodeDecodeError as exc:
            raise ContentError(path, f"invalid UTF-16 at byte {exc.start}") from None
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise ContentError(
                path, f"not valid UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 1]!r}); "
                "save the file as UTF-8", line=line,
            ) from None  # fmt: skip
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ContentError(
            path, "contains a NUL character (a binary file, or UTF-16 without a BOM?)", line=line
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text)


# Front matter -------------------------------------------------------------------------------------


def split_front_matter(path: str, text: str) -> tuple[dict[str, Any], str, int]:
    """Return (metadata, body, number of lines before the body)."""
    if not text.startswith("---\n") and text.rstrip("\n") != "---":
        return {}, text, 0
    end = re.search(r"^(?:---|\.\.\.)[ \t]*$", text[4:], re.M)
    if end is None:
        raise ContentError(path, "front matter starts with '---' but is never closed", line=1)
    block = text[4 : 4 + end.start()]
    body_start = 4 + end.end() + 1
    try:
        data = _plain_front_matter(block)
        if data is None:
            data = yaml.load(block, Loader=_yaml_loader(block)) if block.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ContentError(path, f"front matter is not valid YAML: {problem}", line=line) from None
    except RecursionError:
        raise ContentError(path, "front matter is nested too deeply", line=1) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. `date: 2024-13-45`
        raise ContentError(path, f"front matter has an impossible value: {exc}", line=2) from None
    if not isinstance(data, dict):
        raise ContentError(path, "front matter must be a mapping of 'key: value' lines", line=2)
    lines_before = text[:body_start].count("\n")
    return data, text[body_start:], lines_before


# The front matter nearly every file has is a few `key: value` lines of text, lists of names,
# a date, a flag: read directly, with exactly YAML's meaning, in a fraction of libyaml's time
# (~50 us a file, most of it building YAML nodes). Anything less plain goes to YAML.
_RESOLVER = yaml.resolver.Resolver()
_TAG = "tag:yaml.org,2002:"
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_FLOW_STOPS = re.compile(r"[,\[\]{}:#'\"]")
_WHEN = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:Z|[+-][0-9]{2}:[0-9]{2})?)?"
)


def _plain_front_matter(block: str) -> dict[str, Any] | None:
    """The mapping of a front matter made only of simple lines (see above), or None."""
    data: dict[str, Any] = {}
    for line in block.split("\n"):
        key, sep, raw = line.rstrip(" ").partition(": ")
        if not sep or key not in KNOWN_KEYS:
            if line.strip(" "):
                return None
            continue  # a blank line
        value = _plain_value(raw.strip(" "))
        if value is None:
            return None
        data[key] = value
    return data


def _plain_value(raw: str) -> Any:
    """`raw` as YAML reads it, when it is a double-quoted text without escapes, a flow list
    of such texts or plain words, a plain word or phrase, a date, a flag; else None."""
    if not raw.isprintable():  # stricter than YAML, which refuses some of these
        return None
    if raw.startswith('"'):
        return _quoted(raw)
    if raw.startswith("["):
        return _flow_list(raw)
    return _scalar(raw)


def _quoted(raw: str) -> str | None:
    inner = raw[1:-1]
    if len(raw) < 2 or raw[0] != '"' or raw[-1] != '"' or '"' in inner or "\\" in inner:
        return None
    return inner


def _flow_list(raw: str) -> list[Any] | None:
    if not raw.endswith("]"):
        return None
    inner = raw[1:-1]
    if not inner.strip(" "):
        return []
    items = []
    for piece in inner.split(","):
        item = piece.strip(" ")
        if item.startswith('"'):
            value = _quoted(item)
        else:  # plain inside [ ]: none of the characters that would end or nest it
            value = None if _FLOW_STOPS.search(item) else _scalar(item)
        if value is None:
            return None
        items.append(value)
    return items


def _scalar(raw: str) -> Any:
    """A plain scalar on one line: text, a flag, a date; None for anything else (a number,
    a null, a word YAML would read otherwise)."""
    if not raw or raw[0] in _INDICATORS or ": " in raw or raw.endswith(":") or " #" in raw:
        return None
    tag = _RESOLVER.resolve(yaml.ScalarNode, raw, (True, False))
    if tag == _TAG + "str":
        return raw
    if tag == _TAG + "bool":
        return yaml.constructor.SafeConstructor.bool_values[raw.lower()]
    if tag == _TAG + "timestamp" and _WHEN.fullmatch(raw):
        try:
            return datetime.fromisoformat(raw) if "T" in raw else date.fromisoformat(raw)
        except ValueError:
            return None  # 2024-02-30: YAML says where
    return None


_FLOW_OPEN = re.compile(r"[\[{]")
_BLOCK_INDENT = re.compile(r"^[ \t?:-]*", re.M)
_C_LOADER_MAX_DEPTH = 200


def _yaml_loader(block: str) -> type:
    """libyaml's loader when the block is surely shallow, else the pure-Python one.

    libyaml composes nodes with C recursion: a block nested 100,000 deep would crash the
    interpreter (SIGSEGV) instead of raising. Nesting is bounded by the '[' and '{' count plus
    the widest run of indentation and indicators ('-', '?', ':') opening a line.
    """
    if _YamlLoader is yaml.SafeLoader:
        return _PyLoader
    flow = len(_FLOW_OPEN.findall(block))
    block_depth = max((len(m) for m in _BLOCK_INDENT.findall(block)), default=0)
    return _CLoader if flow + block_depth < _C_LOADER_MAX_DEPTH else _PyLoader


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    """YAML's own date type, with `2024-02-30` an error at its line rather than a ValueError."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError) as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value!r} is not a real date ({exc})", node.start_mark
        ) from None


class _PyLoader(yaml.SafeLoader):
    pass


class _CLoader(_YamlLoader):  # type: ignore[misc,valid-type]
    pass


for _loader in (_PyLoader, _CLoader):
    _loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def _line_of(text: str, key: str) -> int:
    match = re.search(rf"^{re.escape(key)}\s*:", text, re.M)
    return text[: match.start()].count("\n") + 1 if match else 1


def _as_datetime(path: str, key: str, value: Any, line: int) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            result = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ContentError(
                path, f"{key}: {value!r} is not a date; write it as 2024-10-04T09:30:00+03:00",
                line=line,
            ) from None  # fmt: skip
    else:
        raise ContentError(path, f"{key}: expected a date, got {type(value).__name__}", line=line)
    # A date without a time zone is read as UTC, so the output never depends on the machine.
    return result if result.tzinfo else result.replace(tzinfo=UTC)


def _as_text(path: str, key: str, value: Any, line: int) -> str:
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return unicodedata.normalize("NFC", str(value)).strip()
    raise ContentError(path, f"{key}: expected text, got {type(value).__name__}", line=line)


def _as_list(path: str, key: str, value: Any, line: int) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v for v in re.split(r"[,،]", value)]
    if not isinstance(value, list):
        raise ContentError(path, f"{key}: expected a list, got {type(value).__name__}", line=line)
    if len(value) > MAX_LIST_ITEMS:
        raise ContentError(
            path, f"{key}: {len(value)} items; at most {MAX_LIST_ITEMS} per article", line=line
        )
    out: dict[str, None] = {}  # ordered, O(1) membership: 100,000 entities stay fast
    for item in value:
        text = _as_text(path, key, item, line)
        if text:
            out[text] = None
    return tuple(out)


def _as_image(path: str, value: str, line: Callable[[str], int]) -> str:
    """An http(s) or site-relative URL: never javascript:, data:, vbscript: or a quote."""
    if value and (not _validate_link(value) or value.lower().startswith(("mailto:", "tel:"))):
        raise ContentError(
            path, f"image: {value!r} is not an http(s) or site-relative URL", line=line("image")
        )
    return value


def _as_bool(path: str, key: str, value: Any, line: int) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise ContentError(path, f"{key}: expected true or false, got {value!r}", line=line)


# Scraped text -------------------------------------------------------------------------------------

SHARE_WORDS = {
    normalize(w)
    for w in (
        "facebook", "whatsapp", "telegram", "twitter", "x", "email", "e-mail", "linkedin",
        "messenger", "pinterest", "reddit", "print", "copy link", "share", "tweet",
        "فيسبوك", "فيس بوك", "واتساب", "واتس اب", "تويتر", "تلغرام", "تيليجرام", "تليجرام",
        "البريد الإلكتروني", "طباعة", "مشاركة", "شارك", "نسخ الرابط", "إكس",
    )
}  # fmt: skip
RELATED_MARKERS = {normalize(w) for w in ("مقالات ذات صلة", "مواضيع ذات صلة", "أخبار ذات صلة")}
# Image ids and similar debris that scrapers leave on a line of their own.
_ARTIFACT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_SENTENCE_END = tuple('.!?؟،,؛;"”»)…')
_SPEECH = re.compile(
    r"^(?:و|ف)?(?:قال|قالت|أضاف|أضافت|تابع|تابعت|أكد|أكدت|أوضح|أوضحت|أشار|أشارت|ذكر|ذكرت|"
    r"أعلن|أعلنت|كتب|كتبت|جاء|يقول|تقول|ويقول|وتقول|اقرأ|إقرأ|للمزيد|شاهد|طالع|المصدر|"
    r"فيما يلي|وفيما يلي|نشر هذا|وإليكم|إليكم)"
)


def _words(line: str) -> int:
    return len(line.split())


def _is_paragraph_like(line: str) -> bool:
    return _words(line) >= 12 or line.endswith(_SENTENCE_END)


def is_heading(line: str, following: str | None) -> bool:
    """A short line standing alone before a paragraph, not a sentence and not a quote intro."""
    if following is None or not _is_paragraph_like(following):
        return False
    if _words(line) > 10 or len(line) > 80 or len(line) < 4:
        return False
    stripped = line.rstrip(":").rstrip()
    if stripped.endswith(_SENTENCE_END) or line.startswith(("-", "–", "•", "*", '"', "“", "«")):
        return False
    if _SPEECH.match(line):
        return False
    return _words(following) > _words(line)


def is_byline(line: str) -> bool:
    """`خاص - SY24`, `أبوظبي - سكاي نيوز عربية`, `فرانس 24`: a short credit line under the title."""
    return _words(line) <= 7 and len(line) <= 60 and not line.endswith(_SENTENCE_END + (":",))


def _paragraph_html(text: str) -> str:
    direction = text_direction(text)
    attr = f' dir="{direction}"' if direction else ""
    return f"<p{attr}>{isolate(text)}</p>"  # isolate: Latin runs in <bdi> (sahifa/bidi.py)


def _is_share_line(line: str) -> bool:
    return len(line) < 30 and normalize(line) in SHARE_WORDS


def parse_scraped(lines: list[str]) -> tuple[str, str, list[tuple[str, str]]]:
    """Return (title, byline, blocks) where each block is ('p'|'h2', text)."""
    items = [ln.strip() for ln in lines if ln.strip()]
    if not items:
        return "", "", []
    title, rest = items[0], items[1:]
    rest = [ln for ln in rest if not _is_share_line(ln) and not _ARTIFACT.match(ln)]
    for i, ln in enumerate(rest):
        if len(ln) < 30 and normalize(ln.rstrip(":")) in RELATED_MARKERS:
            rest = rest[:i]
            break
    byline = ""
    # A short credit line straight under the title is a byline, not a section heading.
    if len(rest) > 1 and is_byline(rest[0]):
        byline, rest = rest[0], rest[1:]
    blocks: list[tuple[str, str]] = []
    for i, ln in enumerate(rest):
        following = rest[i + 1] if i + 1 < len(rest) else None
        if is_heading(ln, following):
            blocks.append(("h2", ln[:-1].rstrip() if ln.endswith(":") else ln))
        else:
            blocks.append(("p", ln))
    return title, byline, blocks


def render_blocks(blocks: list[tuple[str, str]]) -> tuple[str, tuple[Heading, ...]]:
    used: set[str] = set()
    parts: list[str] = []
    headings: list[Heading] = []
    for kind, text in blocks:
        if kind == "h2":
            anchor = unique_anchor(text, used)
            headings.append(Heading(text, anchor))
            parts.append(f'<h2 id="{anchor}">{isolate(text)}{anchor_link(anchor)}</h2>')
        else:
            parts.append(_paragraph_html(text))
    return "\n".join(parts) + "\n", tuple(headings)


# The article --------------------------------------------------------------------------------------

_MD = make_parser()


def summarize(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + "…"


def read_article(
    rel: str,
    raw: bytes,
    *,
    default_section: str = "أخبار",
    extra: dict[str, str] | None = None,
    digest: str = "",
) -> Article:
    """Turn one file's bytes into an Article. `rel` is the path inside content/ ('/'-separated).

    `extra` carries metadata from outside the file (a manifest row: date, category) that the
    file's own front matter overrides. `digest`: its `source_digest`, when the caller has it.
    """
    text = decode(rel, raw)
    if not text.strip():
        raise ContentError(rel, "the file is empty", line=1)
    meta, body, offset = split_front_matter(rel, text)
    fm_text = text[: len(text) - len(body)]
    for key in meta:
        if key not in KNOWN_KEYS:
            log.warning(
                "%s:%d: unknown front matter key %r (ignored)",
                rel,
                _line_of(fm_text, str(key)),
                key,
            )

    def line(key: str) -> int:
        # Only a key that is there can be wrong: the others are never searched for.
        return _line_of(fm_text, key) if key in meta else 1

    suffix = PurePosixPath(rel).suffix.lower()
    if suffix == ".md":
        body_html, headings, plain = render_markdown(_MD, body, rel, offset + 1)
        title = _as_text(rel, "title", meta.get("title"), line("title"))
        byline = _as_text(rel, "byline", meta.get("byline"), line("byline"))
        first_para = next(
            (p for p in body.split("\n\n") if p.strip() and not p.startswith("#")), ""
        )
    else:
        ftitle, fbyline, blocks = parse_scraped(body.split("\n"))
        body_html, headings = render_blocks(blocks)
        title = _as_text(rel, "title", meta.get("title"), line("title")) or ftitle
        byline = _as_text(rel, "byline", meta.get("byline"), line("byline")) or fbyline
        plain = "\n".join([ftitle] + [t for _, t in blocks])
        first_para = next((t for k, t in blocks if k == "p"), "")
    if not title:
        raise ContentError(rel, "no title: add 'title:' to the front matter", line=1)
    if not plain.strip() and not body.strip():
        log.warning("%s: the article has a title but no text", rel)

    extra = extra or {}
    date_value = meta.get("date", extra.get("date"))
    section = _as_text(rel, "section", meta.get("section"), line("section"))
    section = section or extra.get("category", "") or _folder_section(rel) or default_section
    # A slug from front matter, else from the manifest row: a URL that stays when the headline
    # is corrected (one made from the title moves with it).
    slug_source = _as_text(rel, "slug", meta.get("slug"), line("slug")) or extra.get("slug", "")
    slug = slugify(slug_source) if slug_source else slugify(title)
    if slug_source and not slug:
        where = "slug" if meta.get("slug") else "the manifest's slug"
        raise ContentError(
            rel, f"{where} {slug_source!r} has no letters or digits left", line=line("slug")
        )
    slug = slug or slugify(PurePosixPath(rel).stem)
    if not slug:
        raise ContentError(
            rel, "cannot make a URL from the title or the file name; add 'slug:'", line=1
        )
    if not slugify(section):
        raise ContentError(
            rel, f"section {section!r} has no letters or digits", line=line("section")
        )
    summary = _as_text(rel, "summary", meta.get("summary"), line("summary"))
    lang = _as_text(rel, "lang", meta.get("lang"), line("lang")) or "ar"
    return Article(
        source=rel,
        title=title,
        slug=slug,
        section=section,
        body_html=body_html,
        text=title + "\n" + plain,
        date=_as_datetime(rel, "date", date_value, line("date")),
        updated=_as_datetime(rel, "updated", meta.get("updated"), line("updated")),
        author=_as_text(rel, "author", meta.get("author"), line("author")),
        byline=byline,
        summary=summary or summarize(first_para),
        image=_as_image(rel, _as_text(rel, "image", meta.get("image"), line("image")), line),
        lang=lang,
        draft=_as_bool(rel, "draft", meta.get("draft"), line("draft")),
        featured=_as_bool(rel, "featured", meta.get("featured"), line("featured")),
        tags=_as_list(rel, "tags", meta.get("tags"), line("tags")),
        headings=headings,
        declared_entities=_as_list(rel, "entities", meta.get("entities"), line("entities")),
        words=len(plain.split()),
        explicit_slug=bool(slug_source),
        digest=digest or source_digest(raw, extra),
    )


def source_digest(raw: bytes, extra: dict[str, str] | None) -> str:
    """What an article is made from: its bytes and any manifest row."""
    h = hashlib.sha1(raw)
    h.update(repr(sorted((extra or {}).items())).encode())
    return h.hexdigest()


def _folder_section(rel: str) -> str:
    parts = PurePosixPath(rel).parts
    return parts[0] if len(parts) > 1 else ""
