"""The build after an edit to the body, headline or summary of a few published articles.

Such an edit moves nothing: the articles' URLs, dates, sections, entities and names found are
the same, so every link, listing, related block and feed holds the same stories in the same
order. Linking and planning the whole site again would find exactly that, at a cost of
seconds on a large site. Instead, from the page store (`pagestore`):

* a body edit renders the article's own page, with the surroundings it had in the last build;
* a new headline or summary (a changed card) also renders every page whose row names the
  article (listings, related blocks, neighbours, the home page) and makes again the feeds and
  the news sitemap that list it, each from the cards of the stories it shows, the edited
  one's new;
* with search on, the index's shards that hold the articles are made again (from the cached
  sources of their articles).

Every row is keyed again from the cards it names before it is used: it must give the page key
(or feed key) the saved State has, or the store cannot vouch for it. Anything else (a changed
URL, date, section or entity, a new or removed file, a template, the config, an image, the
gazetteer, a store that lacks a page's row) returns None and the Builder does a full build.
What this writes is what a full build would write: `tests/test_quickedit.py` compares the two
byte for byte. (After a body edit, feed and news-sitemap keys, made from their articles'
digests, are left as they were: their bytes do not change, and the next full build makes
them again.)"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import search
from .config import search_enabled
from .entities import article_candidates, extract
from .errors import ContentError
from .fingerprint import BuildResult, Fingerprint, Index, all_present, load_index, vouches
from .images import place_images
from .model import Article, evolve, pack_body, shard_of, unpack_body
from .pagestore import (
    ERRORS,
    Cards,
    GroupRow,
    PageRow,
    PageStore,
    card,
    card_row,
    kept_fields,
    ref_sources,
    unpack,
)
from .publish import CardGroup
from .readers import read_article, source_digest
from .render import KeyMemo, PageJob, article_page, context_key, make_env, page_key, render_job
from .writer import Patch

log = logging.getLogger("sahifa")

if TYPE_CHECKING:
    from .incremental import Builder, Source, State

EDIT_MAX = 8  # more files changed than this: a full build
# Fields only an article's own page shows (unless a template shows them on cards too).
OWN_FIELDS = frozenset({"body_html", "text", "headings", "digest", "words"})
# Fields other pages show (cards, related links, feeds) that decide no URL, no place in a
# listing and no link: a new headline or summary re-renders the pages that show them only.
CARD_EDITS = frozenset({"title", "summary"})


Bundle = tuple[str, str, list[tuple[str, bytes]]]  # (group name, its key, its files)


@dataclass(frozen=True)
class _Page:
    file: str
    key: str
    data: bytes


def _placed(src: Source, slug: str, path: str) -> Article:
    """A cached source's article with its entities, and the slug and URL its page has."""
    return evolve(src.article, entities=src.refs, slug=slug, path=path)


def edit_pages(builder: Builder, taken: Fingerprint, started: float) -> BuildResult | None:
    """Do the build if at most EDIT_MAX articles changed, and only in their bodies, headlines
    or summaries; else None."""
    from .incremental import _collector_paused

    with _collector_paused():  # a short run that unpickles a few shards of the sources
        return _edit_pages(builder, taken, started)


def _edit_pages(builder: Builder, taken: Fingerprint, started: float) -> BuildResult | None:
    config, cache = builder.config, builder.cache_dir
    if cache is None:
        return None
    index = load_index(cache, builder.version)
    if (
        index is None
        or not index.rest
        or index.rest != taken.rest
        or index.stats.keys() != taken.stats.keys()
        or not vouches(index, config, cache)
    ):
        return None
    changed = sorted(rel for rel, st in taken.stats.items() if index.stats[rel] != st)
    if not changed or len(changed) > EDIT_MAX:
        return None
    state = _saved_state(builder, cache)
    if state is None:
        return None
    edit = _Edit(builder, state, cache)
    for rel in changed:
        if not edit.read(rel, taken.stats[rel]):
            return None
    t1 = time.perf_counter()
    if not all_present(config.output_dir, index.files):
        return None  # a full build puts back what was deleted
    pages = edit.render()
    if pages is None:
        return None
    bundles = edit.reindex() if search_enabled(config) else []
    if bundles is None:
        return None
    bundles = edit.groups + bundles
    written = edit.save(pages, bundles, index, taken)
    return BuildResult(
        articles=index.articles,
        files=len(edit.state.file_hashes),
        groups=len(bundles),
        written=written,
        rendered=len(pages),
        reread=edit.reread,
        extracted=edit.reread,
        seconds={"read": t1 - started, "render+write": time.perf_counter() - t1},
        quick=True,
    )


def _saved_state(builder: Builder, cache: Path) -> State | None:
    """The saved State without its sources (the shards a change needs are read apart)."""
    from .incremental import SHARDS, State, _collector_paused, load_sides, reading_key

    try:
        with _collector_paused():
            state = pickle.loads((cache / "state.pickle").read_bytes())
            load_sides(state, cache, ("names",))
    except Exception:
        return None
    if (
        not isinstance(state, State)
        or state.version != builder.version
        or state.reading != reading_key(builder.config)
        or not state.inputs_key
        or len(state.shards) != SHARDS
        or state.card_fields is None
        or state.card_fields[0] != state.theme
        or "site" not in state.gazetteers
        or "base" not in state.gazetteers
    ):
        return None
    return state


class _Edit:
    """The edited articles of one quick build, read and checked, then rendered and saved."""

    def __init__(self, builder: Builder, state: State, cache: Path) -> None:
        self.builder, self.state, self.cache = builder, state, cache
        self.config = builder.config
        self.shards: dict[int, dict[str, Source]] = {}
        self.edited: dict[str, tuple[Article, bytes]] = {}  # rel -> article (packed), body
        self.old: dict[str, Source] = {}  # rel -> its Source before the edit
        self.carded: set[str] = set()  # edited articles whose headline or summary changed
        self.reread = 0
        self.dirty: set[int] = set()  # the shards an edit changed (others were only read)
        self.shown = state.card_fields[1] if state.card_fields else ()
        self.names = kept_fields(self.shown)
        may_differ = OWN_FIELDS | CARD_EDITS
        self.compared = tuple(f.name for f in fields(Article) if f.name not in may_differ)
        self.groups: list[Bundle] = []  # the feeds and news sitemap made again
        self.store = PageStore(cache / "pages.sqlite")
        self.group_rows: list[GroupRow] = []  # the rows of `groups`, with their new keys
        self.cards: list[tuple[str, str, bytes]] = []  # the new cards of `carded`

    def _part(self, rel: str) -> dict[str, Source] | None:
        from .incremental import _shard, read_shard

        i = _shard(rel)
        if i not in self.shards:
            try:
                self.shards[i] = read_shard(self.cache, i, self.state.shards[i])
            except Exception:
                return None
        return self.shards[i]

    def read(self, rel: str, stat: tuple[int, int]) -> bool:
        """Read one changed file; False when the change reaches beyond its headline, its
        summary and its own page."""
        part = self._part(rel)
        src = part.get(rel) if part is not None else None
        if part is None or src is None:
            return False
        raw = (self.config.content_dir / rel).read_bytes()
        self.dirty.add(_shard_of(rel))
        if source_digest(raw, src.extra) == src.digest:  # touched, same bytes
            part[rel] = replace(src, stat=stat)
            return True
        try:
            full = read_article(
                rel, raw, default_section=self.config.default_section, extra=src.extra
            )
        except ContentError:
            return False  # the full build reports it
        self.reread += 1
        base_key, base = self.state.gazetteers["base"]
        gaz_key, gaz = self.state.gazetteers["site"]
        if src.base_key != base_key or src.gaz_key != gaz_key:
            return False
        if article_candidates(base, full) != src.candidates or extract(gaz, full) != src.refs:
            return False  # names found or entities changed: relating and listings may too
        article, body = pack_body(full)
        if any(getattr(article, f) != getattr(src.article, f) for f in self.compared):
            return False
        if any(
            getattr(article, f) != getattr(src.article, f)
            for f in self.names
            if f != "digest"  # a card's digest is seen by feed keys only, never in bytes
        ):
            self.carded.add(rel)
        self.old.setdefault(rel, src)
        terms = search.article_terms(full) if search_enabled(self.config) else None
        part[rel] = replace(
            src, stat=stat, digest=article.digest, article=article, body=body, terms=terms
        )
        self.edited[rel] = (article, body)
        return True

    def render(self) -> list[_Page] | None:
        """The pages that show an edited article: its own page, and if its headline or
        summary changed every page listing it or linking to it; and its feeds. Each from its
        page store row, keyed again from the old cards first (the row must be the saved
        page's), then rendered from the new ones."""
        try:
            return self._render()
        except ERRORS as exc:  # a store that cannot vouch for its rows: the full build
            log.info("page store: %s: %s (a full build instead)", type(exc).__name__, exc)
            return None

    def _render(self) -> list[_Page] | None:
        state, store = self.state, self.store
        published = [rel for rel in self.edited if rel in state.published]
        rows: dict[str, PageRow] = {}
        for rel in published:  # a draft or a scheduled article is not on the site
            row = store.article_row(rel)
            if row is None:
                return None
            rows[row[0]] = row
        places = {row[3]: (row[4], row[5]) for row in rows.values()}
        group_rows: list[GroupRow] = []
        carded = [rel for rel in published if rel in self.carded]
        if carded:
            found = store.showing(carded) if self._store_complete() else None
            if found is None:
                return None
            pages, group_rows = found
            rows.update((r[0], r) for r in pages if state.page_keys.get(r[0]) == r[1])
            group_rows = [g for g in group_rows if g[0] in state.groups]
        if any(state.page_keys.get(file) != row[1] for file, row in rows.items()):
            return None  # a row not written for the saved page
        needed = {s for row in rows.values() for s in ref_sources(row[6])}
        needed |= {s for row in group_rows for s in ref_sources(row[2])}
        old = store.cards(needed, self.names)
        if old is None or not needed <= old.keys():
            return None
        new = dict(old)
        for rel in carded:
            row = card_row(self._linked(rel, *places[rel]), self.names, state.gazetteers["site"][0])
            new[rel] = card(self.names, pickle.loads(row[2]))
            self.cards.append(row)
        pages = self._pages(list(rows.values()), old, new)
        if pages is None or not self._groups(group_rows, old, new):
            return None
        return pages

    def _store_complete(self) -> bool:
        """Every page and feed of the saved site has its row in the store, under its key:
        then the rows that name an article are all the pages and feeds that show it."""
        pages, groups = self.store.page_keys(), self.store.group_keys()
        if pages is None or groups is None:
            return False
        if any(pages.get(file) != key for file, key in self.state.page_keys.items()):
            return False
        return all(
            groups.get(name) == key
            for name, (key, _) in self.state.groups.items()
            if name.startswith("feed:") or name == "news-sitemap"
        )

    def _linked(self, rel: str, slug: str, path: str) -> Article:
        """An article as this build's site has it (packed): entities, slug and URL."""
        part = self._part(rel)
        assert part is not None  # read() loaded its shard
        return _placed(part[rel], slug, path)

    def _pages(self, rows: list[PageRow], old: Cards, new: Cards) -> list[_Page] | None:
        """Each row's page rendered with the new cards, after its old key is checked."""
        state, config = self.state, self.config
        env = make_env(config, self.cache / "templates")
        before, after = KeyMemo(self.shown), KeyMemo(self.shown)
        pages: list[_Page] = []
        for file, key, template, source, slug, path, _, data in rows:
            was, now = unpack(data, old), unpack(data, new)
            if template == "article.html" and source:
                if self._part(source) is None:
                    return None
                own = self._linked(source, slug, path)
                gone = self.old.get(source)
                prior = own if gone is None else _placed(gone, slug, path)
                job_was, job = article_page(prior, was, config), article_page(own, now, config)
                full = unpack_body(own, self.shards[_shard_of(source)][source].body)
                placed = place_images(full.body_html, state.image_sizes, config.base_path)
                shown = replace(
                    job, context={**job.context, "article": replace(full, body_html=placed)}
                )
            else:
                job_was, job = PageJob(file, template, was), PageJob(file, template, now)
                shown = job
            if job.file != file or page_key(state.theme, context_key(job_was, before)) != key:
                # The cards are not what the saved page was made of (the row's key is the
                # State's): dropped, so that the full build writes them all again.
                self.store.forget_cards()
                return None
            try:
                made = render_job(env, shown)
            except Exception:
                return None  # the full build reports it
            pages.append(_Page(file, page_key(state.theme, context_key(job, after)), made))
        return pages

    def _groups(self, rows: list[GroupRow], old: Cards, new: Cards) -> bool:
        """The feeds and news sitemap that list a retitled article, made again."""
        from .incremental import group_key

        state = self.state
        for name, key, refs, data in rows:
            was, now = unpack(data, old), unpack(data, new)
            if not isinstance(was, CardGroup) or group_key(state.theme, was.key()) != key:
                self.store.forget_cards()  # as in `_pages`
                return False
            made = now.files(self.config)
            if [f for f, _ in made] != state.groups[name][1]:
                return False
            fresh = group_key(state.theme, now.key())
            self.groups.append((name, fresh, made))
            self.group_rows.append((name, fresh, refs, data))
        return True

    def reindex(self) -> list[Bundle] | None:
        """The search index's shards that hold an edited article, made again from the terms
        the cache keeps of their articles (`Source.terms`) and the URLs their pages have in
        the page store; None (a full build) when an article has no terms cached."""
        from .incremental import group_key
        from .render import output_file

        state, config = self.state, self.config
        count = search.shard_count(len(state.published))
        wanted = sorted({shard_of(rel, count) for rel in self.edited if rel in state.published})
        store = PageStore(self.cache / "pages.sqlite")
        bundles: list[Bundle] = []
        for i in wanted:
            members = [rel for rel in state.published if shard_of(rel, count) == i]
            places = store.places(members)
            if places is None:
                return None
            records, stamps = [], []
            for rel in members:
                key, path = places.get(rel, ("", ""))
                part = self._part(rel)
                if not key or state.page_keys.get(output_file(path)) != key or part is None:
                    return None  # a URL the store cannot vouch for
                src = part[rel]
                if src.terms is None:
                    return None  # read with search off: the full build counts its terms
                records.append(search.record(evolve(src.article, path=path), config, src.terms))
                stamps.append(f"{src.digest}|{path}")
            name = search.bundle_name(i)
            key = group_key(state.theme, search.bundle_key(name, stamps))
            bundles.append((f"search:{name}", key, search.bundle_files(records, name)))
        return bundles

    def save(
        self, pages: list[_Page], bundles: list[Bundle], index: Index, taken: Fingerprint
    ) -> list[str]:
        """Write the pages, then the shards, State, page store rows and Index that describe
        them (in the order a full build does: the Index goes first and comes back last)."""
        from .incremental import SIDES, input_parts, inputs_key, write_shard

        state, config, cache = self.state, self.config, self.cache
        (cache / "index.pickle").unlink(missing_ok=True)  # never vouch for a State in flux
        written: list[str] = []
        patch = Patch(config.output_dir)
        try:
            files = [(page.file, page.data) for page in pages]
            removed: set[str] = set()
            for name, key, made in bundles:
                files += made
                removed |= set(state.groups.get(name, ("", []))[1]) - {f for f, _ in made}
                state.groups[name] = (key, [f for f, _ in made])
            for file, data in files:
                digest = hashlib.sha1(data).hexdigest()
                if state.file_hashes.get(file) != digest:
                    patch.put(file, data)
                    written.append(file)
                state.file_hashes[file] = digest
            for file in removed:
                state.file_hashes.pop(file, None)
            if written or removed:
                patch.commit(sorted(removed))
            else:
                patch.abort()
        except BaseException:
            patch.abort()
            raise
        before = state.shards
        names = list(before)
        for i in self.dirty:
            names[i] = write_shard(cache, i, self.shards[i])
        state.shards = tuple(names)
        for page in pages:
            state.page_keys[page.file] = page.key
        for rel, (article, _) in self.edited.items():
            if rel in state.published:
                state.published[rel] = article.digest
        parts = input_parts(
            config, self.builder.version, state.gazetteers["site"][0], state.images_key
        )
        state.inputs_key = inputs_key(parts, state.published)
        self.store.write(
            keys=[(page.file, page.key) for page in pages], cards=self.cards, groups=self.group_rows
        )
        path = cache / "state.pickle"
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as handle:  # its SIDES stay in their files, unchanged
            own = replace(state, **{n: {} for names in SIDES.values() for n in names})
            pickle.dump(own, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        for old in set(before) - set(names):
            (cache / old).unlink(missing_ok=True)
        st = os.stat(path)
        fresh = replace(
            index,
            files=sorted(state.file_hashes),
            quick_key=taken.quick,
            rest=taken.rest,
            stats=taken.stats,
            state_stat=(st.st_ino, st.st_mtime_ns, st.st_size),
        )
        with open(tmp, "wb") as handle:
            pickle.dump(fresh, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache / "index.pickle")
        return written


def _shard_of(rel: str) -> int:
    from .incremental import _shard

    return _shard(rel)
