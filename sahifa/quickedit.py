"""The build after an edit to the body of a few published articles, and nothing else.

Such an edit changes the articles' own pages only: their titles, summaries, dates, sections,
entities and names found are the same, so every link, listing, related block, feed and
sitemap is the same (they show other articles by their card fields, `render.shown_fields`,
and feeds by summary). Linking and planning the whole site again would find exactly that, at
a cost of seconds on a large site; this renders the edited articles' pages with the
surroundings each page had in the last build (`pagestore`), and makes again the search
index's bundles that hold them (from the cached sources of their articles), nothing else.

Anything else — a changed card field or entity, a new or removed file, a template, the config,
an image, the gazetteer, a page store row that is not the saved page's — returns None and the
Builder does a full build. What this writes is what a full build would write:
`tests/test_quickedit.py` compares the two byte for byte. (Feed and news-sitemap keys, made
from their articles' digests, are left as they were: their bytes do not change, and the next
full build makes them again.)"""

from __future__ import annotations

import hashlib
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
from .pagestore import PageStore, Row
from .readers import read_article, source_digest
from .render import KeyMemo, article_page, context_key, make_env, page_key, render_job
from .writer import Patch

if TYPE_CHECKING:
    from .incremental import Builder, Source, State

EDIT_MAX = 8  # more files changed than this: a full build
# Fields only an article's own page shows (unless a template shows them on cards too).
OWN_FIELDS = frozenset({"body_html", "text", "headings", "digest", "words"})


Bundle = tuple[str, str, list[tuple[str, bytes]]]  # (group name, its key, its files)


@dataclass(frozen=True)
class _Page:
    file: str
    key: str
    data: bytes
    row: Row  # its page store row, with the new key


def edit_pages(builder: Builder, taken: Fingerprint, started: float) -> BuildResult | None:
    """Do the build if only the bodies of at most EDIT_MAX articles changed; else None."""
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
    bundles = edit.reindex() if search_enabled(config) and search.available() else []
    if bundles is None:
        return None
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
        self.reread = 0
        shown = state.card_fields[1] if state.card_fields else ()
        self.shown = shown
        may_differ = OWN_FIELDS - set(shown)
        self.compared = tuple(f.name for f in fields(Article) if f.name not in may_differ)

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
        """Read one changed file; False when the change reaches beyond its own page."""
        part = self._part(rel)
        src = part.get(rel) if part is not None else None
        if part is None or src is None:
            return False
        raw = (self.config.content_dir / rel).read_bytes()
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
        part[rel] = replace(src, stat=stat, digest=article.digest, article=article, body=body)
        self.edited[rel] = (article, body)
        return True

    def render(self) -> list[_Page] | None:
        """Each edited, published article's page, from its row in the page store."""
        from .render import output_file

        state, config = self.state, self.config
        store = PageStore(self.cache / "pages.sqlite")
        env = make_env(config, self.cache / "templates")
        pages: list[_Page] = []
        for rel, (article, body) in self.edited.items():
            if rel not in state.published:
                continue  # a draft or a scheduled article: not on the site
            found = store.get(rel)
            if found is None:
                return None
            (_, key, slug, path, blob), around = found
            file = output_file(path)
            if state.page_keys.get(file) != key:
                return None  # the row is not the saved page's
            src = self.shards[_shard_of(rel)][rel]
            own = evolve(article, entities=src.refs, slug=slug, path=path)
            job = article_page(own, around, config)
            new_key = page_key(state.theme, context_key(job, KeyMemo(self.shown)))
            full = unpack_body(own, body)
            placed = place_images(full.body_html, state.image_sizes, config.base_path)
            shown = {**job.context, "article": replace(full, body_html=placed)}
            try:
                data = render_job(env, replace(job, context=shown))
            except Exception:
                return None  # the full build reports it
            pages.append(_Page(file, new_key, data, (rel, new_key, slug, path, blob)))
        return pages

    def reindex(self) -> list[Bundle] | None:
        """The search index's bundles that hold an edited article, made again from the
        cached sources of their articles and the URLs their pages have in the page store."""
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
                records.append(
                    search.record(evolve(unpack_body(src.article, src.body), path=path), config)
                )
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
        for i, part in self.shards.items():
            names[i] = write_shard(cache, i, part)
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
        PageStore(cache / "pages.sqlite").put(page.row for page in pages)
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
