"""What each page, feed and news sitemap was made from in the last build, kept so that an edit
to one article can be built without loading, linking and planning the whole site again
(`quickedit.py`): a body edit renders the article's own page from its row; a new title or
summary also renders the rows that show the article's card, and makes again the feeds that
list it.

`.sahifa-cache/pages.sqlite` holds three tables:

* `pages`: one row per page (file, page key, template, and for an article's page its source,
  slug and URL path), with its context pickled: an article page's surroundings
  (`render.article_around`), any other page's whole context. Every other article in it is
  pickled as a reference to its card (`_card_ref(source)`), and the row lists those sources
  (`refs`), so the pages that show an article are found with one scan.
* `cards`: one per published article, the fields its cards, feed entries and news-sitemap
  entry show (`kept_fields`), with a stamp (digest, URL, gazetteer) a full build compares to
  write only the cards that changed.
* `groups`: one per feed and for the news sitemap, the articles it lists (`publish.CardGroup`).

Nothing here is trusted on its own: a row counts only under the page key (or group key) the
saved State has for it, and the quick build keys each row again from the cards it resolves
to before it renders anything (`quickedit`). A stale card or a row of a failed build then
sends the edit to the full build. SQLite because an edit reads a few rows and a build writes
only what changed, never the whole store."""

from __future__ import annotations

import io
import pickle
import sqlite3
from collections.abc import Iterable
from dataclasses import MISSING, fields
from operator import attrgetter
from pathlib import Path
from typing import Any

import lz4.block

from .model import Article
from .publish import FEED_FIELDS

SCHEMA = 3  # PRAGMA user_version: a store of another layout is started afresh
REF_SEP = "\x1f"

# (file, page key, template, article source or "", slug, URL path, refs, packed context)
PageRow = tuple[str, str, str, str, str, str, str, bytes]
# (group name, group key, refs, packed publish.CardGroup)
GroupRow = tuple[str, str, str, bytes]
Cards = dict[str, Article]


def _blank(field: Any) -> Any:
    if field.default is not MISSING:
        return field.default
    if field.default_factory is not MISSING:
        return field.default_factory()
    return ""


BLANKS = {f.name: _blank(f) for f in fields(Article)}


def kept_fields(shown: tuple[str, ...]) -> tuple[str, ...]:
    """The fields of an article its card keeps: those the templates show, and those its feed
    entries, news-sitemap entry and stamp use (`publish.FEED_FIELDS`); the rest come back
    blank (`card`)."""
    keep = {*shown, *FEED_FIELDS}
    return tuple(name for name in BLANKS if name in keep)


def card(names: tuple[str, ...], values: tuple[Any, ...]) -> Article:
    """An article as other pages show it: `names` set to `values`, every other field blank.
    It renders and keys (`render.context_key` with the same shown fields) the same as the
    whole article."""
    return Article(**{**BLANKS, **dict(zip(names, values, strict=True))})


def card_row(article: Article, names: tuple[str, ...], gaz_key: str) -> tuple[str, str, bytes]:
    """(source, stamp, packed values): a story's row in `cards`, from the story as the site
    has it (entities, slug, URL). The stamp covers all a card holds (the source's digest, the
    URL, the gazetteer its entities were found with): a full build writes the card again
    only when it changes."""
    values = attrgetter(*names)(article)
    stamp = card_stamp(article, gaz_key)
    return article.source, stamp, pickle.dumps(values, protocol=pickle.HIGHEST_PROTOCOL)


def card_stamp(article: Article, gaz_key: str) -> str:
    return f"{article.digest}|{article.path}|{gaz_key}"


def refs_text(sources: Iterable[str]) -> str:
    """'\\x1fa.md\\x1fb.md\\x1f': `instr(refs, '\\x1fa.md\\x1f')` finds the rows showing a.md."""
    return REF_SEP + REF_SEP.join(sorted(sources)) + REF_SEP


def _card_ref(source: str) -> Article:  # only ever called through `_Unpickler.find_class`
    raise pickle.UnpicklingError(f"no card for {source!r}")


class _Pickler(pickle.Pickler):
    """Pickles every Article as a reference to its card (sources noted in `refs`): a row
    holds no copy of another story, so a new headline changes its card only. (reducer_override
    is not called for str, int, dict, list or tuple: cheaper than persistent_id.)"""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.refs: set[str] = set()

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is Article:
            self.refs.add(obj.source)
            return _card_ref, (obj.source,)
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, cards: Cards) -> None:
        super().__init__(file)
        self.cards = cards

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == "_card_ref":
            return self.cards.__getitem__  # a KeyError: a card the store lacks
        return super().find_class(module, name)


def pack(value: Any) -> tuple[str, bytes]:
    """(refs, data): `value` pickled with its articles as card references, compressed."""
    out = io.BytesIO()
    pickler = _Pickler(out)
    pickler.dump(value)
    return refs_text(pickler.refs), lz4.block.compress(out.getvalue())


def unpack(data: bytes, cards: Cards) -> Any:
    """The inverse of `pack`, each reference resolved to `cards[source]`."""
    return _Unpickler(io.BytesIO(lz4.block.decompress(data)), cards).load()


def ref_sources(refs: str) -> list[str]:
    return [s for s in refs.split(REF_SEP) if s]


# What a broken store raises: the caller treats any of these as "no store".
ERRORS = (
    sqlite3.Error,
    lz4.block.LZ4BlockError,
    pickle.UnpicklingError,
    ValueError,
    EOFError,
    AttributeError,
    KeyError,
    TypeError,
    IndexError,
)

_TABLES = (
    "CREATE TABLE IF NOT EXISTS pages (file TEXT PRIMARY KEY, page_key TEXT NOT NULL,"
    " template TEXT NOT NULL, source TEXT NOT NULL, slug TEXT NOT NULL, path TEXT NOT NULL,"
    " refs TEXT NOT NULL, data BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS pages_source ON pages (source)",
    "CREATE TABLE IF NOT EXISTS cards (source TEXT PRIMARY KEY, stamp TEXT NOT NULL,"
    " card BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS groups (name TEXT PRIMARY KEY, group_key TEXT NOT NULL,"
    " refs TEXT NOT NULL, data BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


class PageStore:
    """The rows, in `.sahifa-cache/pages.sqlite`. Reads return None (or raise one of
    ERRORS) when the store is missing or odd; writes start a damaged store afresh."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA synchronous=OFF")  # rows are checked against the State's keys
        if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA:
            for (table,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type='table'"
            ).fetchall():
                db.execute(f'DROP TABLE "{table}"')
            db.execute(f"PRAGMA user_version={SCHEMA}")
        for statement in _TABLES:
            db.execute(statement)
        return db

    def _read(self, query: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]] | None:
        if not self.path.exists():
            return None
        try:
            db = self._connect()
            try:
                return db.execute(query, tuple(args)).fetchall()
            finally:
                db.close()
        except sqlite3.Error:
            return None

    def _in(self, query: str, keys: list[str]) -> list[tuple[Any, ...]] | None:
        """`query` with `IN ({marks})` for each chunk of `keys` (SQLite's parameter limit)."""
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            got = self._read(query.format(marks=",".join("?" * len(chunk))), chunk)
            if got is None:
                return None
            out += got
        return out

    # Writing -------------------------------------------------------------------------------

    def write(
        self,
        pages: Iterable[PageRow] = (),
        dropped: Iterable[str] = (),
        cards: Iterable[tuple[str, str, bytes]] = (),
        uncarded: Iterable[str] = (),
        groups: Iterable[GroupRow] = (),
        ungrouped: Iterable[str] = (),
        names: tuple[str, ...] | None = None,
        keys: Iterable[tuple[str, str]] = (),
    ) -> None:
        """One transaction: rows put and dropped; `keys`: (file, new page key) of rows whose
        context is unchanged; `names`: the card fields (a change empties the cards)."""
        steps = [
            ("DELETE FROM pages WHERE file = ?", [(f,) for f in dropped]),
            ("INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?, ?, ?, ?)", list(pages)),
            ("UPDATE pages SET page_key = ? WHERE file = ?", [(k, f) for f, k in keys]),
            ("DELETE FROM cards WHERE source = ?", [(s,) for s in uncarded]),
            ("INSERT OR REPLACE INTO cards VALUES (?, ?, ?)", list(cards)),
            ("DELETE FROM groups WHERE name = ?", [(n,) for n in ungrouped]),
            ("INSERT OR REPLACE INTO groups VALUES (?, ?, ?, ?)", list(groups)),
        ]
        try:
            self._write(steps, names)
        except sqlite3.DatabaseError:  # not a database (or a damaged one): start it afresh
            self.clear()
            self._write(steps, names)

    def forget_cards(self) -> None:
        """Drop every card: the next full build writes them all again."""
        self.write(names=())

    def _write(
        self, steps: list[tuple[str, list[tuple[Any, ...]]]], names: tuple[str, ...] | None
    ) -> None:
        db = self._connect()
        try:
            db.execute("BEGIN")
            if names is not None:
                joined = REF_SEP.join(names)
                row = db.execute("SELECT value FROM meta WHERE name = 'fields'").fetchone()
                if row is None or row[0] != joined:
                    db.execute("DELETE FROM cards")
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('fields', ?)", (joined,))
            for statement, rows in steps:
                db.executemany(statement, rows)
            db.execute("COMMIT")
        finally:
            db.close()

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    # Reading -------------------------------------------------------------------------------

    def page_keys(self) -> dict[str, str] | None:
        rows = self._read("SELECT file, page_key FROM pages")
        return None if rows is None else dict(rows)  # type: ignore[arg-type]

    def group_keys(self) -> dict[str, str] | None:
        rows = self._read("SELECT name, group_key FROM groups")
        return None if rows is None else dict(rows)  # type: ignore[arg-type]

    def _cards_have(self, names: tuple[str, ...]) -> bool:
        """Whether the cards were kept with exactly these fields (`write`'s `names`)."""
        meta = self._read("SELECT value FROM meta WHERE name = 'fields'")
        return bool(meta) and meta[0][0] == REF_SEP.join(names)

    def card_stamps(self, names: tuple[str, ...]) -> dict[str, str]:
        """source -> stamp of the cards kept with these fields ({} when other fields)."""
        if not self._cards_have(names):
            return {}
        rows = self._read("SELECT source, stamp FROM cards")
        return dict(rows) if rows else {}  # type: ignore[arg-type]

    def article_row(self, source: str) -> PageRow | None:
        rows = self._read("SELECT * FROM pages WHERE source = ?", (source,))
        return tuple(rows[0]) if rows else None  # type: ignore[return-value]

    def places(self, sources: list[str]) -> dict[str, tuple[str, str]] | None:
        """source -> (page key, URL path) of those of `sources` whose page has a row."""
        rows = self._in(
            "SELECT source, page_key, path FROM pages WHERE source IN ({marks})", sources
        )
        return None if rows is None else {src: (key, path) for src, key, path in rows}

    def showing(self, sources: Iterable[str]) -> tuple[list[PageRow], list[GroupRow]] | None:
        """The page rows and group rows whose articles include any of `sources`."""
        wanted = [f"{REF_SEP}{s}{REF_SEP}" for s in sources]
        test = " OR ".join(["instr(refs, ?) > 0"] * len(wanted))
        pages = self._read(f"SELECT * FROM pages WHERE {test}", wanted)
        groups = self._read(f"SELECT * FROM groups WHERE {test}", wanted)
        if pages is None or groups is None:
            return None
        return [tuple(r) for r in pages], [tuple(r) for r in groups]  # type: ignore[misc]

    def cards(self, sources: Iterable[str], names: tuple[str, ...]) -> Cards | None:
        """source -> card, for those of `sources` the store has (None: no store, or cards
        kept with other fields)."""
        if not self._cards_have(names):
            return None
        rows = self._in(
            "SELECT source, card FROM cards WHERE source IN ({marks})", sorted(set(sources))
        )
        if rows is None:
            return None
        return {src: card(names, pickle.loads(blob)) for src, blob in rows}
