"""What each article's page took from the rest of the site in the last build, kept so that an
edit to an article's body alone can be rendered without loading, linking and planning the
whole site again (`Builder._edit_pages`).

One SQLite row per article: the page key of the page it was rendered into and its
surroundings (`render.article_around`), with every other article in them cut down to the card
fields the templates show (`kept_fields`). A row is trusted only when its page key is the one the
saved State has for that page: a build that wrote rows and then failed leaves rows no State
names, and they are never used. SQLite because an edit reads one row and a build writes only
the rows of the pages it rendered, never the whole store."""

from __future__ import annotations

import io
import pickle
import sqlite3
import zlib
from collections.abc import Iterable
from dataclasses import MISSING, fields
from operator import attrgetter
from pathlib import Path
from typing import Any

from .model import Article, Related

# (article source, page key, the article's slug and URL path in that build, packed surroundings)
Row = tuple[str, str, str, str, bytes]


def _blank(field: Any) -> Any:
    if field.default is not MISSING:
        return field.default
    if field.default_factory is not MISSING:
        return field.default_factory()
    return ""


BLANKS = {f.name: _blank(f) for f in fields(Article)}


def kept_fields(shown: tuple[str, ...]) -> tuple[str, ...]:
    """The fields of another article that a row keeps: the card fields the templates show,
    and its source and path; the rest come back blank (`card`)."""
    keep = {*shown, "source", "path"}
    return tuple(name for name in BLANKS if name in keep)


def card(names: tuple[str, ...], values: tuple[Any, ...]) -> Article:
    """Another article as a page shows it: `names` set to `values`, every other field blank.
    It renders and keys (`render.context_key` with the same shown fields) the same as the
    whole article."""
    return Article(**{**BLANKS, **dict(zip(names, values, strict=True))})


class _Pickler(pickle.Pickler):
    """Pickles every Article as its kept fields, read straight off it: no slimmed copy is
    made, and a tuple pickles faster than a dataclass (slimming and pickling a row took ~155
    µs, pickling it this way ~65 µs; one row for every article page a build renders)."""

    def __init__(self, file: io.BytesIO, names: tuple[str, ...]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.names, self.values = names, attrgetter(*names)

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is Article:
            return card, (self.names, self.values(obj))
        return NotImplemented


def pack(around: dict[str, Any], names: tuple[str, ...]) -> bytes:
    """An article page's surroundings, every other article in them cut to the fields
    `names` (`kept_fields`), pickled and compressed (6.6 KB a row -> ~2.6 KB)."""
    out = io.BytesIO()
    _Pickler(out, names).dump(around)
    return zlib.compress(out.getvalue(), 1)


def unpack(data: bytes) -> dict[str, Any]:
    around = pickle.loads(zlib.decompress(data))
    if not isinstance(around, dict) or not all(
        isinstance(r, Related) for r in around.get("related", ())
    ):
        raise ValueError("not an article's surroundings")
    return around


class PageStore:
    """The rows, in `.sahifa-cache/pages.sqlite`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA synchronous=OFF")  # rows are checked against the State's keys
        db.execute(
            "CREATE TABLE IF NOT EXISTS pages "
            "(source TEXT PRIMARY KEY, page_key TEXT NOT NULL, slug TEXT NOT NULL,"
            " path TEXT NOT NULL, around BLOB NOT NULL)"
        )
        return db

    def put(self, rows: Iterable[Row]) -> None:
        rows = list(rows)
        try:
            self._put(rows)
        except sqlite3.DatabaseError:  # not a database (or a damaged one): start it afresh
            self.clear()
            self._put(rows)

    def _put(self, rows: list[Row]) -> None:
        db = self._connect()
        try:
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?)", rows)
            db.execute("COMMIT")
        finally:
            db.close()

    def get(self, source: str) -> tuple[Row, dict[str, Any]] | None:
        """`source`'s row and its surroundings unpacked. The caller checks the row's page
        key against the saved State's before trusting it."""
        if not self.path.exists():
            return None
        try:
            db = self._connect()
            try:
                row = db.execute("SELECT * FROM pages WHERE source = ?", (source,)).fetchone()
            finally:
                db.close()
            return None if row is None else (tuple(row), unpack(row[4]))  # type: ignore[return-value]
        except (
            sqlite3.Error,
            zlib.error,
            pickle.UnpicklingError,
            ValueError,
            EOFError,
            AttributeError,
        ):
            return None  # like every cache: never trusted when odd

    def places(self, sources: list[str]) -> dict[str, tuple[str, str]] | None:
        """source -> (page key, URL path) of those of `sources` that have a row (None: no
        store). The caller checks each key against the saved State's."""
        if not self.path.exists():
            return None
        found: dict[str, tuple[str, str]] = {}
        try:
            db = self._connect()
            try:
                for start in range(0, len(sources), 500):  # SQLite's limit on parameters
                    chunk = sources[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    query = f"SELECT source, page_key, path FROM pages WHERE source IN ({marks})"
                    found.update((src, (key, path)) for src, key, path in db.execute(query, chunk))
            finally:
                db.close()
        except sqlite3.Error:
            return None
        return found

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
