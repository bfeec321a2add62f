"""The core types that flow between the build stages. All are small and frozen."""

from __future__ import annotations

import pickle
import zlib
from array import array
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

import lz4.block


@dataclass(frozen=True)
class Heading:
    """A section heading inside an article; `anchor` is its stable id."""

    title: str
    anchor: str
    level: int = 2


@dataclass(frozen=True)
class Mention:
    """One occurrence of an entity in a text: `text == source[start:end]`."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Entity:
    """A place, person, organisation or other named thing."""

    name: str
    type: str  # place | person | organisation | other
    slug: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class EntityRef:
    """An entity as it appears in one article, with how prominent it is there."""

    name: str
    type: str
    count: int = 1
    in_title: bool = False
    in_lead: bool = False


@dataclass(frozen=True)
class Article:
    source: str  # path relative to the content folder, with '/' separators
    title: str
    slug: str
    section: str
    body_html: str
    text: str  # plain text (title, paragraphs, headings) used for entities and search
    date: datetime | None = None
    updated: datetime | None = None
    author: str = ""
    byline: str = ""
    summary: str = ""
    image: str = ""
    lang: str = "ar"
    draft: bool = False
    featured: bool = False
    tags: tuple[str, ...] = ()
    headings: tuple[Heading, ...] = ()
    declared_entities: tuple[str, ...] = ()
    entities: tuple[EntityRef, ...] = ()
    words: int = 0
    digest: str = ""  # hash of the source bytes and outside metadata: the cache key
    explicit_slug: bool = False  # the slug came from front matter (a collision is an error)
    path: str = ""  # the URL path inside the site, e.g. '/سياسة/عنوان/'; set by the pipeline


@dataclass(frozen=True)
class Related:
    """A link from one article to another, with the entities that explain it."""

    article: Article
    shared: tuple[str, ...] = ()
    score: float = 0.0


@dataclass(frozen=True)
class Site:
    """Everything the renderer needs, computed once per build."""

    articles: tuple[Article, ...]  # newest first
    entities: dict[str, Entity] = field(default_factory=dict)
    related: dict[str, tuple[Related, ...]] = field(default_factory=dict)  # by source
    sections: dict[str, tuple[Article, ...]] = field(default_factory=dict)
    entity_articles: dict[str, tuple[Article, ...]] = field(default_factory=dict)
    section_paths: dict[str, str] = field(default_factory=dict)  # section name -> '/slug/'
    co_entities: dict[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    # source -> the article's packed body and text (`pack_body`), when its Article in this
    # Site leaves them out: a build never holds every article's text at once.
    bodies: dict[str, bytes] = field(default_factory=dict)
    # source -> the article's search terms (`search.pack_terms`), where the build cache has them
    terms: dict[str, bytes] = field(default_factory=dict)

    def full(self, article: Article) -> Article:
        """`article` with its body HTML and plain text."""
        blob = self.bodies.get(article.source)
        if blob is None or article.body_html or article.text:
            return article
        return unpack_body(article, blob)


T = TypeVar("T")


def evolve(obj: T, **changes: Any) -> T:
    """`dataclasses.replace` for the core types without running `__init__` again: they have
    no `__post_init__`, so a copy of the fields with some swapped is the same object, made
    ~10x faster (a build replaces every article two or three times: ~0.25 s at 10,000)."""
    new = object.__new__(type(obj))
    fields = new.__dict__
    fields.update(obj.__dict__)
    unknown = changes.keys() - fields.keys()
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field {sorted(unknown)[0]!r}")
    fields.update(changes)
    return new


def pack_body(article: Article) -> tuple[Article, bytes]:
    """The article without its body HTML and plain text, and those two packed (LZ4, about a
    quarter of their size in memory). What a build keeps of every article between stages: the
    text is needed again only to render the article's own page, to re-find its entities or
    to index it for search, one article at a time. LZ4 rather than zlib: a cold build packs
    every body once and unpacks it twice (entities, then its page); per article that took
    112 + 2 x 54 us with zlib level 1 and takes 24 + 2 x 11 us, for 17 % more bytes."""
    blob = lz4.block.compress(pickle.dumps((article.body_html, article.text), protocol=5))
    return replace(article, body_html="", text=""), blob


def unpack_body(article: Article, blob: bytes) -> Article:
    """The inverse of `pack_body`."""
    body_html, text = unpack_texts(blob)
    return replace(article, body_html=body_html, text=text)


def unpack_texts(blob: bytes) -> tuple[str, str]:
    """(body HTML, plain text) from a `pack_body` blob."""
    body_html, text = pickle.loads(lz4.block.decompress(blob))
    return body_html, text


Columns = tuple[list[int], list[int], list[str]]  # token starts, ends, folded words


def pack_columns(cols: Columns) -> bytes | None:
    """An article's tokens (`arabic.token_columns`) packed to go from the worker that read
    the article to the one that extracts its entities, which would otherwise split the text
    again (0.26 ms an article, against ~0.13 ms to pack and unpack). None when they do
    not fit the format (an offset past 2**32, a NUL in a word): the text is split again."""
    starts, ends, words = cols
    joined = "\x00".join(words)
    if (ends and ends[-1] >= 2**32) or joined.count("\x00") != max(len(words) - 1, 0):
        return None
    payload = (array("I", starts).tobytes(), array("I", ends).tobytes(), joined)
    return lz4.block.compress(pickle.dumps(payload, protocol=5))


def unpack_columns(blob: bytes) -> Columns:
    """The inverse of `pack_columns`."""
    starts, ends, joined = pickle.loads(lz4.block.decompress(blob))
    first, last = array("I"), array("I")
    first.frombytes(starts)
    last.frombytes(ends)
    return first.tolist(), last.tolist(), joined.split("\x00") if joined or first else []


def shard_of(source: str, count: int) -> int:
    """Which of `count` shards an article's source path falls in: the build cache's source
    files (64) and the search index's shards (up to 16) split articles by the same hash,
    so that the articles of one cache shard are all in one shard of the index."""
    return zlib.crc32(source.encode("utf-8", "surrogatepass")) % count
