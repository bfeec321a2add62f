"""Incremental builds: a cache between the stages, not logic sprinkled through them.

Per-article work (read, parse, extract entities) is cached by the source's bytes. Site-wide
linking (paths, sections, entity index, related) is recomputed from the cached articles on
every build, so listings never go stale. A page whose inputs (`context_key`) and templates did
not change is not re-rendered, and a file whose bytes did not change is not re-written.

The same `Builder` serves `python build.py` (state persisted in `.sahifa-cache/`, output
swapped in atomically, unchanged files hard-linked from the previous site) and
`python build.py serve` (state kept in memory, changed files replaced one by one).
"""

from __future__ import annotations

import gc
import hashlib
import logging
import math
import multiprocessing as mp
import os
import pickle
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import islice
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import jinja2

from . import pagestore, search
from .arabic import token_columns
from .config import Config, config_id, search_enabled
from .entities import (
    Gazetteer,
    article_candidates,
    extract,
    load_gazetteer,
    promote_discovered,
)
from .errors import ContentError, SahifaError
from .files import CONTENT_SUFFIXES, Listing, discover, discover_images, hidden, walk
from .fingerprint import (
    BuildResult,
    Fingerprint,
    Index,
    Stats,
    all_present,
    code_version,
    folder_id,
    quick_keys,
    tree_digest,
    unchanged,
)
from .frontpage import ThemeData
from .images import IMAGE_SUFFIXES, image_size, place_images
from .model import (
    Article,
    EntityRef,
    Site,
    evolve,
    pack_body,
    pack_columns,
    shard_of,
    unpack_body,
    unpack_columns,
    unpack_texts,
)
from .pagestore import PageStore
from .pipeline import load_manifest, publishable
from .progress import Progress
from .publish import CardGroup, FileGroup
from .readers import read_article, source_digest
from .relate import RelateMemo, relate_cached
from .render import (
    ArticlePage,
    KeyMemo,
    PageJob,
    article_job,
    context_key,
    listing_jobs,
    make_env,
    menu,
    output_file,
    own_context,
    page_key,
    render_job,
    shown_fields,
    site_article_job,
    site_groups,
    static_files,
)
from .site import CoMemo, CoTop, assign_paths, co_entities, link_site, newest_first
from .writer import OLD_PREFIX, Patch, Swap, clean_stale

log = logging.getLogger("sahifa")


@dataclass(frozen=True)
class Source:
    """What the cache keeps for one content file. Frozen: a changed Source is a new object,
    which is how a save tells the shards that must be written again (`_save_state`)."""

    stat: tuple[int, int]  # (mtime_ns, size)
    digest: str
    article: Article  # as read, before entities and paths; body and text packed in `body`
    body: bytes  # model.pack_body
    refs: tuple[EntityRef, ...] = ()
    gaz_key: str = ""  # the site gazetteer `refs` were extracted with
    candidates: tuple[tuple[str, str], ...] = ()  # names discovered here, not in the base list
    base_key: str = ""  # the base gazetteer `candidates` were found with
    extra: dict[str, str] | None = None  # its manifest row (date, section) when it was read
    terms: bytes | None = None  # its search terms (`search.pack_terms`), if read with search on


@dataclass
class State:
    """Everything carried from one build to the next."""

    version: str = ""
    sources: dict[str, Source] = field(default_factory=dict)  # saved apart, in shards
    page_keys: dict[str, str] = field(default_factory=dict)  # output file -> context key
    theme: str = ""  # digest of the templates, config and images the page keys were made with
    inputs_key: str = ""  # digest of every input of the last complete build
    output_id: tuple[int, int] | None = None  # (device, inode) of the output folder written
    relate_memo: RelateMemo = field(default_factory=dict)  # scored links by article
    co_memo: CoMemo = field(default_factory=dict)  # each entity's companions (site.co_entities)
    # Feeds, sitemaps, search index: group name -> (key, the files it made)
    groups: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    file_hashes: dict[str, str] = field(default_factory=dict)  # output file -> sha1 of bytes
    # The gazetteers of the last build with the digest each was made from (`_base_gazetteer`,
    # `_site_gazetteer`): a rebuild whose names did not change loads them instead of building
    # them again from the lists and every article's discovered and declared names.
    gazetteers: dict[str, tuple[str, Gazetteer]] = field(default_factory=dict)
    # The files `sources` is saved in (`Builder._save_shards`), and those the SIDE fields are
    # saved in (`Builder._save_sides`); each is named by a digest of its bytes. The State file
    # itself holds the rest: what the build after a body edit (`quickedit`) loads and saves.
    shards: tuple[str, ...] = ()
    sides: dict[str, str] = field(default_factory=dict)
    # (theme digest, the card fields its templates show): `Builder._card_fields`
    card_fields: tuple[str, tuple[str, ...]] | None = None
    # What `quickedit` needs to render an edited article without the rest of the build:
    # the published articles' digests (for `inputs_key`), and the images' digest and sizes.
    published: dict[str, str] = field(default_factory=dict)
    images_key: str = ""
    # The settings that shape what a file reads as (`reading_key`): the sources hold for them only.
    reading: str = ""
    image_sizes: dict[str, tuple[int, int]] = field(default_factory=dict)


def reading_key(config: Config) -> str:
    """The settings a file is read with besides its bytes and manifest row: an article
    without a section of its own takes `default_section`. Cached sources read with others
    are read again."""
    return repr((config.default_section,))


def _shard(rel: str) -> int:
    return shard_of(rel, SHARDS)


# State fields saved apart from the State file, in these files: linking's memos (which the
# build after a body edit never needs), and the gazetteers (which it reads but never changes).
SIDES = {"links": ("relate_memo", "co_memo"), "names": ("gazetteers",)}


def write_shard(folder: Path, i: int | str, part: Any, known: Collection[str] = ()) -> str:
    """Save one shard of State.sources (or a side: `SIDES`); its file is named by a digest
    of its bytes. A file of that name is left as it is only when it is in `known` (read and
    checked, or written, by this builder): any other may be a damaged copy under the right
    name, which would make every later build distrust the cache."""
    data = pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL)
    label = f"sources-{i:02d}" if isinstance(i, int) else i
    name = f"{label}-{hashlib.sha1(data).hexdigest()[:20]}.pickle"
    if name not in known or not (folder / name).exists():
        tmp = folder / f"{name}.tmp{os.getpid()}"
        tmp.write_bytes(data)
        os.replace(tmp, folder / name)
    return name


def _save_shards_in_child(
    folder: Path, todo: list[tuple[int, dict[str, Source]]], send: Connection
) -> None:
    """In the process `Builder._save_shards_aside` forks: write the shards, send their names."""
    try:
        send.send([write_shard(folder, i, part) for i, part in todo])
    except Exception:  # the parent saves them itself (`Builder._collect_shards`)
        raise SystemExit(1) from None
    finally:
        send.close()


def read_shard(folder: Path, i: int, name: str) -> dict[str, Source]:
    """One shard of State.sources, checked against the digest in its name."""
    part = read_side(folder, name)
    if not isinstance(part, dict) or any(_shard(rel) != i for rel in part):
        raise ValueError(f"{name} holds another shard")
    return part


def read_side(folder: Path, name: str) -> Any:
    """A file `write_shard` saved, checked against the digest in its name."""
    data = (folder / name).read_bytes()
    if not name.endswith(f"-{hashlib.sha1(data).hexdigest()[:20]}.pickle"):
        raise ValueError(f"{name} is not the file that was saved")
    return pickle.loads(data)


def load_sides(state: State, folder: Path, which: tuple[str, ...] = tuple(SIDES)) -> None:
    """Fill the State's SIDES fields from their files."""
    if set(state.sides) != set(SIDES):
        raise ValueError("cache without its side files")
    for side in which:
        values = read_side(folder, state.sides[side])
        if not isinstance(values, tuple) or len(values) != len(SIDES[side]):
            raise ValueError(f"{state.sides[side]} is not a {side} file")
        for name, value in zip(SIDES[side], values, strict=True):
            setattr(state, name, value)


def group_key(theme_id: str, key: str) -> str:
    """A feed, sitemap or search shard's key with the templates and config (State.groups)."""
    return hashlib.sha1((theme_id + key).encode()).hexdigest()


def input_parts(config: Config, version: str, gaz_key: str, images_key: str) -> list[str]:
    """What `inputs_key` covers besides the articles."""
    theme = tree_digest(config.theme_dir, config.templates_dir)
    return [version, theme, config_id(config), gaz_key, images_key, repr(search_enabled(config))]


def inputs_key(parts: list[str], published: dict[str, str]) -> str:
    """`Builder._inputs_key` from its parts and the published articles' digests."""
    lines = parts + [f"{rel}:{digest}" for rel, digest in published.items()]
    return hashlib.sha1("\x1f".join(lines).encode("utf-8", "surrogatepass")).hexdigest()


# State.sources is saved in this many files: an edit rewrites one, not all, and the quick
# build reads one per page it renders (a headline shown on a dozen story pages: a dozen shards;
# 16 shards of 6,250 sources at 100,000 took 1.4 s to unpickle for a title edit).
SHARDS = 64
# Up to this many files to write (or a quarter of the site) are patched in place, not swapped:
# a new story shifts every page of its listings (~6,000 of 26,000 files at 10,000 articles),
# and a new folder would hard-link the other 20,000 (~3 s) where renaming 4,000 takes 0.1 s.
PATCH_MAX = 500
PARALLEL_MIN = 64  # below this many items, starting processes costs more than it saves
# From this many changed shards of State.sources on, a forked process saves them while this
# one links and plans (`Builder._save_shards_aside`); fewer are saved with the State.
SHARDS_ASIDE_MIN = 16
CHUNK_MAX = 64  # items a worker takes at a time, at most
# Packed tokens the main process holds between reading and extraction: splitting an
# article's text again costs ~0.26 ms against ~0.13 ms to pack and unpack it. They take about
# the file's size (~9 KB a synthetic article): the files read first, up to this many bytes of
# them (~27,000 such articles), ship their tokens; the others' are not packed at all (packing
# them only to drop them made reading 100,000 articles 108.6 s instead of 95.4 s, and the
# peak 3.1 GB instead of 2.6 GB) and their text is split again.
COLUMNS_BUDGET = 256 * 2**20
T = TypeVar("T")
_WORKER_BUILDER: Builder | None = None  # the running build, set just before work is mapped


# (path in content/, file, manifest row, stat, cached digest, whether to ship its tokens)
ReadItem = tuple[str, Path, dict[str, str] | None, tuple[int, int], str, bool]
# The article, its packed body, the names found in it, its tokens packed (`pack_columns`),
# its search terms (`search.pack_terms`, with search on)
Read = tuple[Article, bytes, tuple[tuple[str, str], ...], bytes | None, bytes | None]


def spread(items: list[T], heavy: Callable[[T], bool], gap: int = CHUNK_MAX) -> list[T]:
    """`items` with the heavy ones first, `gap` apart, so that no chunk a worker takes holds
    two. The 16 search bundles at 10,000 articles (Pagefind's, ~2.5 s each; now the index's
    shards) came last, in the last chunk of 64: one worker made them one after the other
    while the other had nothing left."""
    heavy_items = [item for item in items if heavy(item)]
    if not heavy_items:
        return items
    rest = iter([item for item in items if not heavy(item)])
    out: list[T] = []
    for item in heavy_items:
        out.append(item)
        out.extend(islice(rest, gap - 1))
    out.extend(rest)
    return out


def _read_one(item: ReadItem) -> Read | ContentError | None:
    """Read one file: its Article with the body packed, and the names discovered in it (with
    the base gazetteer) and its tokens, packed for the extraction that follows; None when its
    bytes hash to the digest already cached (a touch); or the ContentError (returned, not
    raised: it must cross processes). The bytes are read here, in the worker, so the main
    process never holds every file at once."""
    builder = _WORKER_BUILDER
    assert builder is not None and builder._base is not None
    rel, path, extra, _, old_digest, ship = item
    raw = path.read_bytes()
    digest = source_digest(raw, extra)
    if digest == old_digest:
        return None
    try:
        article = read_article(
            rel, raw, default_section=builder.config.default_section, extra=extra, digest=digest
        )
    except ContentError as exc:
        return exc
    cols = token_columns(article.text)
    found = article_candidates(builder._base[0], article, cols)
    # The search terms are counted from the same split of the text, while it is at hand.
    terms = search.article_terms(article, cols[2]) if builder.index_terms else None
    return (*pack_body(article), found, pack_columns(cols) if ship else None, terms)


def _candidates_one(src: Source) -> tuple[tuple[str, str], ...]:
    builder = _WORKER_BUILDER
    assert builder is not None and builder._base is not None
    return article_candidates(builder._base[0], unpack_body(src.article, src.body))


def _terms_one(src: Source) -> bytes:
    """The search terms of a cached source read while search was off."""
    return search.article_terms(unpack_body(src.article, src.body))


def _extract_one(item: tuple[Source, bytes | None]) -> tuple[EntityRef, ...]:
    """The entities of one article; its tokens come packed when it was read in this build."""
    builder = _WORKER_BUILDER
    assert builder is not None and builder.gaz is not None
    src, packed = item
    cols = unpack_columns(packed) if packed is not None else None
    return extract(builder.gaz, unpack_body(src.article, src.body), cols)


def _render_one(job: PageJob) -> bytes:
    """Render one page; an article's own page gets its body unpacked here, in the worker."""
    builder = _WORKER_BUILDER
    assert builder is not None
    article = job.context.get("article")
    if isinstance(article, Article) and not (article.body_html or article.text):
        job = replace(job, context={**job.context, "article": builder._full(article)})
    return render_job(builder._env, job)


class Done(NamedTuple):
    """A file a worker has already dealt with: the sha1 of its bytes, and whether it wrote
    them into the new folder (else they equal the current site's file, to be linked)."""

    digest: str
    written: bool


Page = PageJob | ArticlePage  # a page to render; an article's context is made where it renders
Files = list[tuple[str, bytes | Done]]
Made = tuple[Files, str | None, tuple[str, bytes] | None]


class GroupBatch(NamedTuple):
    """File groups of one `FileGroup.batch`, made one after the other by one worker."""

    groups: tuple[FileGroup, ...]


class PageBatch(NamedTuple):
    """Pages rendered one after the other by one worker: the listings, which share their
    stories' cards (`render.Fragments`, one memo per process). Handed out in chunks, each
    listing page went to either worker, and both rendered (and keyed) nearly every card."""

    pages: tuple[Page, ...]


# From this many listing pages to render on, they go to one worker as a PageBatch; past
# LISTINGS_BATCH_MAX, as several (a batch's result, its page-store rows, is one message).
LISTINGS_BATCH_MIN = 256
LISTINGS_BATCH_MAX = 20_000

Work = Page | FileGroup | GroupBatch | PageBatch
# A process saving shards of State.sources: it, its pipe, every shard, those it saves.
ShardSaver = tuple[BaseProcess, Connection, list[dict[str, Source]], list[int]]


def _make_one(work: Work) -> Made | list[Files] | list[Made]:
    """A page, or a group's files (a feed, the sitemaps): [(file, bytes or Done)], the
    page's key when the plan left keying it to the worker (see Builder._plan), and the
    page's context packed for the page store (`Builder._row`). A batch: each item's."""
    builder = _WORKER_BUILDER
    assert builder is not None
    if isinstance(work, GroupBatch):
        return [builder._drop(group.make()) for group in work.groups]
    if isinstance(work, PageBatch):
        return [_make_page(builder, page) for page in work.pages]
    if isinstance(work, FileGroup):
        return builder._drop(work.make()), None, None
    return _make_page(builder, work)


def _make_page(builder: Builder, work: Page) -> Made:
    job = builder._job(work)
    key = builder._page_key(job) if builder._keys_in_workers else None
    files = [(job.file, _render_one(job))]
    return builder._drop(files), key, builder._row(job)


def _with_listings_batched(todo: list[Page]) -> list[Work]:
    """The pages to render, with the listings (every page but the articles' own) in
    PageBatches of at most LISTINGS_BATCH_MAX, of even size, when there are enough of them."""
    listings = [page for page in todo if isinstance(page, PageJob)]
    if len(listings) < LISTINGS_BATCH_MIN:
        return list(todo)
    work: list[Work] = [page for page in todo if not isinstance(page, PageJob)]
    size = math.ceil(len(listings) / math.ceil(len(listings) / LISTINGS_BATCH_MAX))
    for start in range(0, len(listings), size):
        work.append(PageBatch(tuple(listings[start : start + size])))
    return work


def _heavy(work: Work) -> bool:
    """Work the render hands out first (`spread`): a batch, or a heavy group."""
    return isinstance(work, GroupBatch | PageBatch) or (isinstance(work, FileGroup) and work.heavy)


def _own_article(job: PageJob) -> Article | None:
    """The article whose own page `job` is (None: a listing or other page)."""
    article = job.context.get("article")
    return article if job.template == "article.html" and isinstance(article, Article) else None


def _stored_context(job: PageJob, config: Config) -> dict[str, Any]:
    """What the page store keeps of a page's context: an article page's surroundings (its
    own article comes from the build cache's sources, `render.own_context`), any other
    page's whole context."""
    article = _own_article(job)
    if article is None:
        return job.context
    own = own_context(article, config)
    return {k: v for k, v in job.context.items() if k not in own}


def _row_head(job: Page) -> tuple[str, str, str, str]:
    """(template, source, slug, URL path): the page store's columns before refs and data;
    source, slug and path are an article page's, "" for any other page."""
    article = job.article if isinstance(job, ArticlePage) else _own_article(job)
    if article is None:
        return job.template, "", "", ""
    return job.template, article.source, article.slug, article.path


def _run_item(index: int) -> Any:
    """In a worker: the mapped function on the item at `index`. Workers are forked after the
    items are set, so they already hold them: only the index and the result are pickled."""
    builder = _WORKER_BUILDER
    assert builder is not None and builder._mapped is not None
    fn, items = builder._mapped
    return fn(items[index])


class Builder:
    """Builds a site, keeping what it learnt for the next build."""

    def __init__(
        self,
        config: Config,
        *,
        in_place: bool = False,
        cache_dir: Path | None = None,
        seed_dir: Path | None = None,
        jobs: int = 1,
        progress: Progress | None = None,
    ) -> None:
        self.config = config
        self.index_terms = search_enabled(config)  # count each article's search terms as read
        self.progress = progress or Progress()
        self.jobs = max(1, jobs)
        self._mapped: tuple[Callable[[Any], Any], list[Any]] | None = None  # see _run_item
        self._env: jinja2.Environment | None = None
        self._theme = ""
        self._theme_id = ""  # digest of _theme (State.theme)
        self._key_memo = KeyMemo()  # context_key's memo, for one build
        self._keys_in_workers = False  # this build's pages are keyed as they are rendered
        self._intact = False
        self._images: dict[str, bytes] = {}
        self._images_key = ""
        self._pending_groups: dict[str, tuple[str, list[str]]] | None = None
        self._pending_memo: RelateMemo = {}
        self._pending_co: CoMemo = {}
        self.in_place = in_place
        self.cache_dir = cache_dir
        self.seed_dir = seed_dir  # another cache to take the per-article work from (`_seeded`)
        self.version = code_version()
        self._state: State | None = None
        self._horizon: float | None = None
        self._last: tuple[Site, ThemeData] | None = None  # the last planned site (previews)
        self._sizes: dict[str, tuple[int, int]] = {}  # image sizes of the last build
        self._published = 0
        self._quick = ""  # this build's Builder._quick_key, taken before reading
        self._stats: Stats = {}  # the content files' stats as the quick key saw them
        self._rest = ""  # the quick key of all but the content files (`quick_keys`)
        self._digests: dict[str, str] = {}  # the published articles' digests (`_inputs_key`)
        self._stage: Swap | Patch | None = None  # where render workers write (`_drop`)
        # The page store's rows of this build's pages (file, template, source, slug, path,
        # refs, data), and what its feeds and news sitemap list (`_store_pages`).
        self._rows: list[tuple[str, str, str, str, str, str, bytes]] = []
        self._group_shows: dict[str, CardGroup] = {}
        self._jobs: list[Page] = []  # every page of the last plan
        self._menu: dict[str, Any] = {}  # the last plan's shared menu (`render.menu`)
        self._walked: Listing | None = None  # content/ as walked in this build
        self.gaz: Gazetteer | None = None
        self._gaz_key = ""
        self._base: tuple[Gazetteer, str] | None = None
        self._frozen = False  # the build has frozen the collector's objects (`build`)
        # Per shard of State.sources: its file and what it held when loaded or last saved.
        self._shards: list[tuple[str, dict[str, Source]] | None] = [None] * SHARDS
        self._sides: set[str] = set()  # side files read and checked, or written, here
        # The process saving this build's changed shards, with its pipe, the shards by index
        # and which of them it writes (`_save_shards_aside`).
        self._shard_saver: ShardSaver | None = None

    # -- the cache file --------------------------------------------------------------------------

    @property
    def state(self) -> State:
        """The saved State, loaded on first use (a build that changes nothing never needs it)."""
        if self._state is None:
            self._state = self._load_state()
        return self._state

    def _cache_file(self) -> Path | None:
        return self.cache_dir / "state.pickle" if self.cache_dir else None

    def _load_state(self) -> State:
        path = self._cache_file()
        if path is None or not path.exists():
            return self._seeded()
        try:
            state = self._read_state(path)
        except Exception as exc:  # a cache is never trusted: anything odd means start afresh
            log.info("ignoring build cache %s (%s)", path, exc)
            self._shards, self._sides = [None] * SHARDS, set()
            return State(version=self.version)
        if state.reading != reading_key(self.config):
            state.sources = {}  # read with other settings: every file is read again
        return state  # its pages hold for the folder it wrote only: `_forget_foreign_output`

    def _read_state(self, path: Path) -> State:
        """A saved State with its sources and side files; raises if anything is odd."""
        with _collector_paused():
            state = pickle.loads(path.read_bytes())
            if not isinstance(state, State) or state.version != self.version:
                raise ValueError("cache from another version")
            state.sources = self._load_shards(path.parent, state.shards)
            load_sides(state, path.parent)
            self._sides = set(state.sides.values())
        return state

    def _seeded(self) -> State:
        """A first State from the per-article work of another cache of this code version
        (`seed_dir`: the build command's, for `serve`'s first start): its sources, memos and
        gazetteers, each checked again as this build uses it, and none of its pages. Else an
        empty State."""
        fresh = State(version=self.version)
        seed = self.seed_dir / "state.pickle" if self.seed_dir else None
        if seed is None or not seed.exists():
            return fresh
        try:
            state = self._read_state(seed)
        except Exception as exc:
            log.info("not seeding from %s (%s)", seed, exc)
        else:
            if state.reading == reading_key(self.config):
                fresh.sources = state.sources
            fresh.relate_memo, fresh.co_memo = state.relate_memo, state.co_memo
            fresh.gazetteers = state.gazetteers
        self._shards = [None] * SHARDS  # its shard files are the seed's: save them all here
        return fresh

    def _load_shards(self, folder: Path, names: tuple[str, ...]) -> dict[str, Source]:
        if len(names) != SHARDS:
            raise ValueError("cache without its sources")
        sources: dict[str, Source] = {}
        for i, name in enumerate(names):
            part = read_shard(folder, i, name)
            self._shards[i] = (name, part)
            sources.update(part)
        return sources

    def _changed_shards(
        self, sources: dict[str, Source]
    ) -> tuple[list[dict[str, Source]], list[int]]:
        """`sources` split into SHARDS by path, and the shards that changed since they were
        loaded or saved (an article's Source is replaced, never edited, when it changes)."""
        parts: list[dict[str, Source]] = [{} for _ in range(SHARDS)]
        for rel, src in sources.items():
            parts[_shard(rel)][rel] = src
        changed = []
        for i, part in enumerate(parts):
            before = self._shards[i]
            if before is None or not _same_sources(before[1], part):
                changed.append(i)
        return parts, changed

    def _save_shards_aside(self) -> None:
        """Start saving this build's sources in a forked process, once they are read: a
        cold build at 10,000 articles pickled and wrote ~52 MB of them after its last page,
        on one core (~0.6 s), where linking and planning, which come next, leave a core
        idle. The shard files are named by their bytes, so writing them early vouches for
        nothing: the State that names them is saved at the end, as before (`_save_state`)."""
        self._collect_shards()  # a failed build's, if any
        if (
            self.cache_dir is None
            or self.in_place  # `serve`: its builds change a shard or two
            or self.jobs <= 1
            or "fork" not in mp.get_all_start_methods()
        ):
            return
        parts, changed = self._changed_shards(self._pending_sources)
        if len(changed) < SHARDS_ASIDE_MIN:
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        context = mp.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        todo = [(i, parts[i]) for i in changed]
        child = context.Process(
            target=_save_shards_in_child, args=(self.cache_dir, todo, send), daemon=True
        )
        child.start()
        send.close()
        self._shard_saver = (child, receive, parts, changed)

    def _collect_shards(self) -> None:
        """Wait for the process `_save_shards_aside` started and note the shards it saved;
        any it did not save (it failed) are saved by `_save_shards` as usual."""
        saver, self._shard_saver = self._shard_saver, None
        if saver is None:
            return
        child, receive, parts, changed = saver
        try:
            names = receive.recv()
        except (EOFError, OSError):
            names = None
        finally:
            receive.close()
            child.join()
        if names is None or child.exitcode or len(names) != len(changed):
            log.warning("build cache: sources not saved aside (exit %s)", child.exitcode)
            return
        for i, name in zip(changed, names, strict=True):
            self._shards[i] = (name, parts[i])

    def _save_shards(self, folder: Path) -> tuple[str, ...]:
        """Save State.sources in SHARDS files by path, writing only the shards that changed
        since they were loaded or saved: one edit at 10,000 articles rewrites ~3 MB instead
        of ~52 MB."""
        self._collect_shards()
        parts, changed = self._changed_shards(self.state.sources)
        stale = set(changed)
        names = []
        for i, part in enumerate(parts):
            before = self._shards[i]
            if i not in stale and before is not None:  # unchanged means saved before
                names.append(before[0])
                continue
            name = write_shard(folder, i, part)
            self._shards[i] = (name, part)
            names.append(name)
        return tuple(names)

    def _forget_saved_state(self) -> None:
        path = self._cache_file()
        if path is not None:
            (path.parent / "index.pickle").unlink(missing_ok=True)  # first: it vouches for site/
            path.unlink(missing_ok=True)

    def _save_state(self) -> None:
        path = self._cache_file()
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        index = path.parent / "index.pickle"
        index.unlink(missing_ok=True)  # never vouch for a State that is not saved yet
        shards = self._save_shards(path.parent)
        with open(tmp, "wb") as handle:
            sides = {
                side: write_shard(
                    path.parent, side, tuple(getattr(self.state, n) for n in names), self._sides
                )
                for side, names in SIDES.items()
            }
            self._sides = set(sides.values())
            blank = {n: type(getattr(self.state, n))() for names in SIDES.values() for n in names}
            own = replace(self.state, sources={}, shards=shards, sides=sides, **blank)
            pickle.dump(own, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        kept = {*shards, *sides.values()}
        for old in path.parent.glob("*.pickle"):
            if old.name.startswith(("sources-", *SIDES)) and old.name not in kept:
                old.unlink(missing_ok=True)  # an earlier build's (or one a crash left)
        if self.state.inputs_key and self._quick:  # a complete build: worth a quick check
            st = os.stat(path)
            entry = Index(
                self.version,
                self._quick,
                self._horizon,
                self.state.output_id,
                sorted(self.state.file_hashes),
                self._published,
                (st.st_ino, st.st_mtime_ns, st.st_size),
                self._rest,
                self._stats,
            )
            with open(tmp, "wb") as handle:
                pickle.dump(entry, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, index)

    def _quick_key(self) -> str:
        """This build's `fingerprint.quick_key`, from the build's one walk of content/."""
        quick, self._rest = quick_keys(self.config, self.version, self._listing(), self._stats)
        return quick

    # -- stages ----------------------------------------------------------------------------------

    def _base_gazetteer(self) -> tuple[Gazetteer, str]:
        """The built-in list plus the site's entities.toml, and a digest of what it was made of."""
        site_file = self.config.content_dir / "entities.toml"
        data = site_file.read_bytes() if site_file.exists() else b""
        digest = hashlib.sha1(data).hexdigest()
        if self._base is None or digest != self._base[1]:
            saved = self.state.gazetteers.get("base")
            gaz = saved[1] if saved and saved[0] == digest else load_gazetteer(site_file)
            self._base = (gaz, digest)
            self.state.gazetteers["base"] = (digest, gaz)
        return self._base

    def _site_gazetteer(self, sources: dict[str, Source]) -> tuple[Gazetteer, str]:
        """The gazetteer every article is matched against in this build: the base list, the
        names discovered in at least two articles, and every name an article declares in its
        front matter. Built before extraction so that extraction never depends on the order
        articles are read in. Discovery per article is cached like extraction."""
        base, base_digest = self._base_gazetteer()
        stale = [rel for rel, src in sources.items() if src.base_key != base_digest]
        found = self._map(_candidates_one, [sources[rel] for rel in stale], "discover names")
        for rel, cands in zip(stale, found, strict=True):
            sources[rel] = replace(sources[rel], candidates=cands, base_key=base_digest)
        promoted = sorted({c for src in sources.values() for c in src.candidates})
        named = {name for src in sources.values() for name in src.article.declared_entities}
        declared = sorted(named)
        parts = [base_digest, *(f"{n}:{t}" for n, t in promoted), "|", *declared]
        key = hashlib.sha1("\x1f".join(parts).encode()).hexdigest()
        if self.gaz is None or key != self._gaz_key:
            saved = self.state.gazetteers.get("site")
            if saved and saved[0] == key:
                gaz = saved[1]
            else:
                gaz = promote_discovered(base, (src.candidates for src in sources.values()))
                register = Article(source="", title="", slug="", section="", body_html="", text="")
                extract(gaz, replace(register, declared_entities=tuple(declared)))
            self.gaz, self._gaz_key = gaz, key
            self.state.gazetteers["site"] = (key, gaz)
        return self.gaz, key

    def _read(
        self, keep_going: bool, result: BuildResult, changed: set[Path] | None = None
    ) -> list[Article]:
        """Read what changed (by bytes), then extract entities where the article or the
        site-wide gazetteer changed. Returns articles with entities, in source order.
        With `changed` (the paths the preview server saw change) only those are looked at."""
        manifest = load_manifest(self.config.manifest)
        sources: dict[str, Source] = {}
        todo: list[ReadItem] = []
        budget = COLUMNS_BUDGET
        order: list[str] = []
        files, fresh = self._content_files(changed, result.skipped if keep_going else None)
        for rel, path in files:
            order.append(rel)
            old = self.state.sources.get(rel)
            extra = manifest.get(path.name)
            same_extra = old is not None and old.extra == extra
            if old is not None and same_extra and fresh is not None and rel not in fresh:
                sources[rel] = old  # the watcher saw no change to this file
                continue
            stat = self._stats.get(rel) or _stat(path)
            if old is not None and same_extra and old.stat == stat:
                sources[rel] = old
                continue
            # Tokens packed take about the file's size: shipped while they fit the budget.
            budget -= stat[1]
            digest = old.digest if old is not None else ""
            todo.append((rel, path, extra, stat, digest, budget >= 0))
        result.reread = 0
        columns: dict[str, bytes] = {}  # the shipped tokens of the files read, until extraction
        base_key = self._base_gazetteer()[1]  # names are discovered as each file is read
        for (rel, _, extra, stat, _, _), outcome in zip(
            todo, self._map(_read_one, todo, "read"), strict=True
        ):
            if outcome is None:  # the same bytes under a new mtime
                sources[rel] = replace(self.state.sources[rel], stat=stat, extra=extra)
                continue
            result.reread += 1
            if isinstance(outcome, ContentError):
                if not keep_going:
                    raise outcome
                log.error("%s (skipped)", outcome)
                result.skipped.append(str(outcome))
                continue
            article, body, found, cols, terms = outcome
            if cols is not None:
                columns[rel] = cols
            sources[rel] = Source(
                stat,
                article.digest,
                article,
                body,
                candidates=found,
                base_key=base_key,
                extra=extra,
                terms=terms,
            )
        sources = {rel: sources[rel] for rel in order if rel in sources}
        _, gaz_key = self._site_gazetteer(sources)
        stale = [rel for rel, src in sources.items() if src.gaz_key != gaz_key]
        result.extracted = len(stale)
        items = [(sources[rel], columns.pop(rel, None)) for rel in stale]
        found = self._map(_extract_one, items, "find entities")
        del items
        for rel, refs in zip(stale, found, strict=True):
            sources[rel] = replace(sources[rel], refs=refs, gaz_key=gaz_key)
        if self.index_terms:
            self._count_missing_terms(sources)
        self._pending_sources = sources
        return [evolve(src.article, entities=src.refs) for src in sources.values()]

    def _count_missing_terms(self, sources: dict[str, Source]) -> None:
        """Count the search terms of the sources read while search was off (`Source.terms`),
        once: else every later edit with search would count their shard's text again."""
        missing = [rel for rel, src in sources.items() if src.terms is None]
        counted = self._map(_terms_one, [sources[rel] for rel in missing], "count search terms")
        for rel, terms in zip(missing, counted, strict=True):
            sources[rel] = replace(sources[rel], terms=terms)

    def _content_files(
        self, changed: set[Path] | None, skipped: list[str] | None
    ) -> tuple[list[tuple[str, Path]], set[str] | None]:
        """The content files, and which of them to look at again (None: all of them).

        Given the paths the watcher reported, the previous build's list is updated with just
        those; anything it cannot account for that way (a folder, a link) means a full look."""
        content = self.config.content_dir
        known = self.state.sources
        if changed is None or not known:
            return discover(content, skipped, listing=self._listing()), None
        root = content.absolute()
        rels, fresh = set(known), set()
        for path in changed:
            path = path.absolute()
            if not path.is_relative_to(root):
                continue  # a template or site.toml
            rel = path.relative_to(root).as_posix()
            if path.is_dir() or path.is_symlink():
                return discover(content, skipped, listing=self._listing()), None
            if not rel.lower().endswith(CONTENT_SUFFIXES) or hidden(rel):
                if not path.exists() and "." not in path.name:
                    return discover(content, skipped, listing=self._listing()), None  # a folder?
                continue  # an image, or a file the build does not read
            fresh.add(rel)
            if path.is_file():
                rels.add(rel)
            else:
                rels.discard(rel)
        return sorted((rel, content / rel) for rel in rels), fresh

    def _map(self, fn: Callable[[Any], Any], items: list[Any], stage: str) -> list[Any]:
        """fn over items in order; across `jobs` forked processes when there is enough work."""
        return list(self._imap(fn, items, stage))

    def _imap(self, fn: Callable[[Any], Any], items: list[Any], stage: str) -> Iterator[Any]:
        """fn over items, results yielded in order as they come. Workers inherit the build's
        state and the items by fork, so only indices and results are pickled."""
        global _WORKER_BUILDER
        _WORKER_BUILDER = self
        self._mapped = (fn, items)
        self.progress.start(stage, len(items))
        try:
            if (
                self.jobs <= 1
                or len(items) < PARALLEL_MIN
                or "fork" not in mp.get_all_start_methods()
            ):
                results: Iterator[Any] = map(fn, items)
                pool = None
            else:
                # Objects alive now are the workers' inheritance: frozen, a collection in a
                # worker never walks them (which would copy every page of the heap it touches).
                gc.freeze()
                pool = mp.get_context("fork").Pool(self.jobs)
                chunk = max(1, min(CHUNK_MAX, len(items) // (self.jobs * 8)))
                results = pool.imap(_run_item, range(len(items)), chunksize=chunk)
            try:
                for result in results:
                    self.progress.advance()
                    yield result
            finally:
                if pool is not None:
                    pool.terminate()
                    pool.join()
                    if not self._frozen:  # else the build unfreezes when it ends
                        gc.unfreeze()
        finally:
            self.progress.finish()
            self._mapped = None
            _WORKER_BUILDER = None

    def build(
        self,
        keep_going: bool = False,
        changed: set[Path] | None = None,
        taken: Fingerprint | None = None,
    ) -> BuildResult:
        """One build. On error the previous output and cache stay as they were. `changed`:
        the files the preview server's watcher saw change since the last good build. `taken`:
        the inputs as `fingerprint.nothing_changed` saw them, which found the site changed."""
        result = BuildResult()
        t0 = time.perf_counter()
        self._walked = None
        if taken is not None and taken.version == self.version:
            self._walked, self._quick, self._stats = taken.listing, taken.quick, taken.stats
            self._rest = taken.rest
        else:
            # Taken before anything is read, once per build: a file saved during the build
            # then no longer matches the index, and the next build looks at it.
            use = self.cache_dir is not None and changed is None
            self._stats, self._rest = {}, ""
            self._quick = self._quick_key() if use else ""
        if taken is not None and self._state is None and changed is None and self._quick:
            from .quickedit import edit_pages  # here: it imports this module

            done = edit_pages(self, taken, t0)
            if done is not None:
                return done
        if (
            taken is None
            and self._state is None
            and self._quick
            and not self.in_place  # `serve` links its first build: previews need the site
            and (done := unchanged(self.config, self.cache_dir, self.version, self._quick, t0))
        ):
            if not self.in_place:
                clean_stale(self.config.output_dir)
            return done
        # The cyclic collector is off while a build runs: a build makes next to no cyclic
        # garbage (one edit at 10,000 articles left 1,105 unreachable objects, a whole
        # 3,000-article build 1,394; rendering 1,000 pages none), but it allocates millions of
        # objects, and each young collection walked every big dict or list being filled (page
        # keys, memos): 780 collections took 0.73 s of a one-edit build at 10,000 articles.
        # What was loaded and read is also frozen, so that the collector, back on after the
        # build (also after an error: `serve` builds again and again in one process), never
        # walks it in a forked worker (which would copy the memory it touches). Undone at the end.
        enabled = gc.isenabled()
        gc.disable()
        self._frozen = True
        try:
            articles = self._read(keep_going, result, changed)
            gc.freeze()
            return self._build_read(articles, result, keep_going, changed, t0)
        finally:
            self._frozen = False
            # Everything made since reading goes to the oldest generation with the rest
            # (freeze, then unfreeze: two list splices). Left young, the first collection
            # after the build walks all that `serve` keeps of it (its incremental builds at
            # 10,000 articles, in one process: 3.6-4.4 s without this, 2.8-3.1 s with it).
            gc.freeze()
            gc.unfreeze()
            if enabled:
                gc.enable()

    def _build_read(
        self,
        articles: list[Article],
        result: BuildResult,
        keep_going: bool,
        changed: set[Path] | None,
        t0: float,
    ) -> BuildResult:
        """The rest of `build`, from the articles read."""
        t1 = time.perf_counter()
        config = self.config
        now = datetime.now(UTC)
        due = [a.date for a in articles if a.date and a.date > now and not config.future]
        self._horizon = min(due).timestamp() if due else None
        articles = publishable(articles, config, now)
        self._published = len(articles)
        self._scan_images(changed)
        self._forget_foreign_output()
        # The whole site is a function of its inputs: when none changed and the output is
        # still there, there is nothing to link, render or write.
        inputs = self._inputs_key(articles)
        self._intact = self._output_intact()
        linked = self._last is not None or not self.in_place  # see `preview`
        if inputs == self.state.inputs_key and not result.skipped and self._intact and linked:
            self._finish_unchanged(result, len(articles), t0, t1)
            return result
        self._save_shards_aside()
        site = self._link(articles, result.skipped if keep_going else None)
        t2 = time.perf_counter()
        todo, keys, groups = self._plan(site)
        t3 = time.perf_counter()
        result.groups = sum(1 for _, _, kept in groups if kept is None)
        expected = len(todo) + result.groups
        hashes = self._write(self._outputs(todo, keys, groups), expected, result)
        t4 = time.perf_counter()
        result.rendered = len(todo)
        self.state.file_hashes = hashes
        self.state.page_keys = keys
        self.state.theme = self._theme_id
        self._key_memo = KeyMemo()  # it holds this build's objects alive
        if self._pending_groups is not None:
            self.state.groups, self._pending_groups = self._pending_groups, None
        self.state.sources = self._pending_sources
        self.state.relate_memo = self._pending_memo
        self.state.co_memo = self._pending_co
        self.state.inputs_key = "" if result.skipped else inputs
        self.state.output_id = folder_id(config.output_dir)
        self.state.published, self.state.images_key = self._digests, self._images_key
        self.state.reading = reading_key(config)
        self.state.image_sizes = self._sizes
        storing = self._store_pages_aside(site, keys)
        self._jobs = []
        try:
            self._save_state()
        finally:
            if storing is not None:
                storing.join()
                if storing.exitcode:  # its rows stay as the last build left them (`quickedit`)
                    log.warning("page store: not brought up to date (exit %s)", storing.exitcode)
        result.articles = len(site.articles)
        result.files = len(hashes)
        result.seconds = {
            "read": t1 - t0,
            "link": t2 - t1,
            "plan": t3 - t2,
            "render+write": t4 - t3,
        }
        return result

    def site(self) -> Site:
        """Read and link the site without rendering or writing it (for tools and tests)."""
        self._walked = None
        articles = publishable(self._read(False, BuildResult()), self.config, datetime.now(UTC))
        self._scan_images()
        return self._link([self._full(a) for a in articles], None)

    def _link(self, articles: list[Article], refused: list[str] | None) -> Site:
        """The site-wide step, from scratch every build: URLs, sections, entities, related."""
        config = self.config
        ordered = tuple(newest_first(assign_paths(articles, config.ascii_slugs, refused)))
        assert self.gaz is not None
        counted: list[tuple[dict[str, CoTop], CoMemo]] = []

        def score(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
            # Each entity's companions are counted here while the workers score the related
            # links (~0.2 s at 10,000 articles that had a core to itself, the other idle).
            results = self._imap(fn, items, "relate")
            first = list(islice(results, 1))  # the workers are started
            counted.append(co_entities(ordered, self.state.co_memo))
            return [*first, *results]

        related, self._pending_memo = relate_cached(
            ordered, config.related_count, self.state.relate_memo, score
        )
        if not counted:  # nothing to score: no workers were started
            counted.append(co_entities(ordered, self.state.co_memo))
        co, self._pending_co = counted[0]
        site = link_site(
            ordered, self.gaz, config.related_count, config.ascii_slugs, related=related, co=co
        )
        # The articles' text stays packed (the search index unpacks it where the cache holds
        # no terms: Site.full).
        pending = self._pending_sources.items()
        bodies = {rel: src.body for rel, src in pending}
        terms = {rel: src.terms for rel, src in pending if src.terms is not None}
        return replace(site, bodies=bodies, terms=terms)

    def preview(self, path: Path) -> BuildResult | None:
        """Re-render only the page of the article at `path`, against the last build's site,
        and write it in place: what the preview server shows the editor at once, before the
        full build brings every other page (listings, related blocks, feeds) up to date.

        None (do a full build only) unless the file is an article the last build published
        whose URL and visibility stay the same. The full build that follows re-renders the
        page from scratch; its bytes are normally the same, so the page reloads once."""
        if self._last is None or self._env is None or not self.in_place or self.gaz is None:
            return None
        site, theme = self._last
        config = self.config
        try:
            rel = path.absolute().relative_to(config.content_dir.absolute()).as_posix()
        except ValueError:
            return None
        shown = next((a for a in site.articles if a.source == rel), None)
        cached = self.state.sources.get(rel)
        if shown is None or cached is None or not path.is_file():
            return None
        extra = load_manifest(config.manifest).get(path.name)
        try:
            art = read_article(
                rel, path.read_bytes(), default_section=config.default_section, extra=extra
            )
        except (ContentError, OSError):
            return None  # the full build reports it, with the overlay
        before = cached.article
        if (art.slug, art.section, art.draft, art.date) != (
            before.slug,
            before.section,
            before.draft,
            before.date,
        ):
            return None  # a new URL or place in the lists: only a full build gets it right
        art = replace(
            art,
            entities=extract(self.gaz, art),
            slug=shown.slug,
            path=shown.path,
            body_html=place_images(art.body_html, self._sizes, config.base_path),
        )
        job = article_job(site, theme, art, config)
        try:
            data = render_job(self._env, job)
        except Exception:  # a template error: the full build reports it
            return None
        stage = Patch(config.output_dir)
        try:
            stage.put(job.file, data)
            stage.commit([])
        except BaseException:
            stage.abort()
            raise
        # What is on disk now: the full build then leaves the file alone when it renders the
        # same bytes (its page key is still the old one, so it does render it again).
        self.state.file_hashes[job.file] = hashlib.sha1(data).hexdigest()
        return BuildResult(articles=len(site.articles), written=[job.file], rendered=1)

    def _listing(self) -> Listing:
        """content/ walked once per build (the input digest, the articles and the images)."""
        if self._walked is None:
            content = self.config.content_dir
            self._walked = walk(content) if content.is_dir() else []
        return self._walked

    def _scan_images(self, changed: set[Path] | None = None) -> None:
        """Read content/'s images (published as they are) and their sizes (for the <img> that
        show them, set as each article's body is unpacked: `_full`). Given the watcher's
        paths, the last build's images stand unless one of those could be an image."""
        if (
            changed is not None
            and self._images_key
            and not any(
                path.suffix.lower() in IMAGE_SUFFIXES or not path.suffix for path in changed
            )
        ):
            return
        content = self.config.content_dir
        self._images = {
            rel: path.read_bytes() for rel, path in discover_images(content, self._listing())
        }
        self._sizes = {
            f"/{rel}": size for rel, data in self._images.items() if (size := image_size(data))
        }
        listing = "".join(
            f"{rel}:{hashlib.sha1(data).hexdigest()}" for rel, data in sorted(self._images.items())
        )
        self._images_key = hashlib.sha1(listing.encode()).hexdigest()

    def _full(self, article: Article) -> Article:
        """An article of this build with its body and text unpacked, its images sized."""
        body_html, text = unpack_texts(self._pending_sources[article.source].body)
        placed = place_images(body_html, self._sizes, self.config.base_path)
        return replace(article, body_html=placed, text=text)  # one copy of the article, not two

    def _inputs_key(self, articles: list[Article]) -> str:
        """Digest of everything a build reads: code, templates, config, gazetteer, articles."""
        self._digests = {a.source: a.digest for a in articles}
        return inputs_key(
            input_parts(self.config, self.version, self._gaz_key, self._images_key), self._digests
        )

    def _forget_foreign_output(self) -> None:
        """What the State says of the output files holds only for the folder it wrote. A folder
        that is gone, or that another writer swapped in (a builder with drafts or another base
        URL, a build without the cache, a copy), may hold other bytes under the same names:
        then every page is rendered and every file written again, none kept on trust. Checked
        every build: a State kept in memory (`serve`) may outlive its folder too."""
        state = self.state
        if folder_id(self.config.output_dir) != state.output_id:
            state.file_hashes, state.page_keys, state.groups = {}, {}, {}
            state.inputs_key, state.output_id = "", None

    def _output_intact(self) -> bool:
        names = self.state.file_hashes
        return bool(names) and all_present(self.config.output_dir, names)

    def _finish_unchanged(self, result: BuildResult, articles: int, t0: float, t1: float) -> None:
        if self._pending_sources != self.state.sources:  # only stats moved (a touch): remember
            self.state.sources = self._pending_sources
            self._save_state()
        if not self.in_place:
            clean_stale(self.config.output_dir)  # what a killed build may have left behind
        result.articles = articles
        result.files = len(self.state.file_hashes)
        result.seconds = {
            "read": t1 - t0,
            "link": 0.0,
            "render": 0.0,
            "write": time.perf_counter() - t1,
        }

    def _plan(self, site: Site) -> tuple[list[Page], dict[str, str], list[Any]]:
        """Which pages must be rendered (their key changed or their file is gone), every
        page's key, and the site-file groups (each marked unchanged or to be made)."""
        config = self.config
        theme = (
            tree_digest(config.theme_dir, config.templates_dir)
            + config_id(config)
            + self._images_key
        )
        if self._env is None or theme != self._theme:
            # Keep compiled templates between builds (serve) until a template changes.
            templates = self.cache_dir / "templates" if self.cache_dir else None
            self._env, self._theme = make_env(config, templates), theme
        keys: dict[str, str] = {}
        todo: list[Page] = []
        self._last = (site, ThemeData.of(site, config))
        self._theme_id = hashlib.sha1(theme.encode()).hexdigest()
        self._key_memo = KeyMemo(self._card_fields())
        self._rows, self._group_shows = [], {}
        # When every page is rendered anyway (a first build, a template or config change),
        # the workers key the pages as they render them, instead of this process first.
        everything = not self.state.page_keys or self.state.theme != self._theme_id
        self._keys_in_workers = everything
        self._menu = menu(site)
        articles = [ArticlePage(output_file(a.path), a) for a in site.articles]
        jobs = self._jobs = [*articles, *listing_jobs(site, config, self._last[1], self._menu)]
        if everything:
            todo = jobs
        else:  # keyed across the workers: a context walk per page adds up on a large site
            for job, key in zip(jobs, self._map(self._page_key, jobs, "plan"), strict=True):
                keys[job.file] = key
                if self.state.page_keys.get(job.file) != key or not self._kept(job.file):
                    todo.append(job)
        groups: list[Any] = []
        for group in site_groups(site, config):
            key = group_key(self._theme_id, group.key)
            before = self.state.groups.get(group.name)
            same = before is not None and before[0] == key
            kept = same and all(self._kept(name) for name in before[1])  # type: ignore[index]
            groups.append((group, key, before[1] if kept else None))  # type: ignore[index]
        return todo, keys, groups

    def _card_fields(self) -> tuple[str, ...]:
        """The card fields this theme shows (`render.shown_fields`), kept with the theme's
        digest: reading every template costs ~0.05 s, and a theme seldom changes."""
        saved = self.state.card_fields
        if saved is None or saved[0] != self._theme_id:
            assert self._env is not None
            saved = self.state.card_fields = (self._theme_id, shown_fields(self._env))
        return saved[1]

    def _job(self, page: Page) -> PageJob:
        """The page with its context (an article's is made here: `render.ArticlePage`)."""
        if isinstance(page, PageJob):
            return page
        assert self._last is not None
        site, theme = self._last
        return site_article_job(site, theme, page.article, self.config, self._menu)

    def _page_key(self, job: Page) -> str:
        """The page's context key, with the templates and config it is rendered with."""
        return page_key(self._theme_id, context_key(self._job(job), self._key_memo))

    def _row(self, job: PageJob) -> tuple[str, bytes] | None:
        """A page's context packed for the page store, (refs, data): an article page's
        surroundings, any other page's whole context. None: no cache to keep it in, or
        `serve`, whose previews use the site in memory (only `python build.py`'s quick build
        reads the store)."""
        if self.cache_dir is None or self.in_place:
            return None
        return pagestore.pack(_stored_context(job, self.config))

    def _store_pages_aside(self, site: Site, keys: dict[str, str]) -> BaseProcess | None:
        """`_store_pages`, in a forked process while this one saves the State (0.5-0.7 s each
        at 10,000 articles, both after the last page is written); returns that process. The
        store is one SQLite transaction: a failure leaves the last build's rows, which the
        quick build then finds under other page keys and does not use."""
        if (
            self.cache_dir is None
            or self.in_place
            or self.jobs <= 1
            or "fork" not in mp.get_all_start_methods()
        ):
            self._store_pages(site, keys, self._jobs)
            return None
        self._card_fields()  # kept in the State: made here, not in the child
        child = mp.get_context("fork").Process(
            target=self._store_pages_in_child, args=(site, keys, self._jobs), daemon=True
        )
        child.start()
        self._rows, self._group_shows = [], {}
        return child

    def _store_pages_in_child(self, site: Site, keys: dict[str, str], jobs: list[Page]) -> None:
        try:
            self._store_pages(site, keys, jobs)
        except Exception:  # the parent says so (`_build_read`); no traceback from a child
            raise SystemExit(1) from None

    def _store_pages(self, site: Site, keys: dict[str, str], jobs: list[Page]) -> None:
        """Bring the page store up to this build: the rows of the pages it rendered (and of
        any kept page whose row is missing), the cards of changed articles, the rows of the
        feeds it made; the rows of pages, cards and feeds no longer on the site dropped."""
        rows, self._rows = self._rows, []
        shown, self._group_shows = self._group_shows, {}
        if self.cache_dir is None or self.in_place:
            return
        store = PageStore(self.cache_dir / "pages.sqlite")
        names = pagestore.kept_fields(self._card_fields())
        try:
            have = store.page_keys() or {}
            groups = store.group_keys() or {}
            stamps = store.card_stamps(names)
        except pagestore.ERRORS:
            have, groups, stamps = {}, {}, {}
        pages = [
            (file, keys[file], template, source, slug, path, refs, data)
            for file, template, source, slug, path, refs, data in rows
        ]
        done = {row[0] for row in pages}
        for job in jobs:  # kept, but no row says so (a store started afresh)
            if job.file not in done and have.get(job.file) != keys[job.file]:
                refs, data = pagestore.pack(_stored_context(self._job(job), self.config))
                pages.append((job.file, keys[job.file], *_row_head(job), refs, data))
        gaz = self._gaz_key
        fresh = {a.source: pagestore.card_stamp(a, gaz) for a in site.articles}
        cards = [
            pagestore.card_row(a, names, gaz)
            for a in site.articles
            if stamps.get(a.source) != fresh[a.source]
        ]
        group_rows = []
        for name, shows in shown.items():
            key = self.state.groups.get(name, ("", []))[0]
            if groups.get(name) != key:
                refs, data = pagestore.pack(shows)
                group_rows.append((name, key, refs, data))
        store.write(
            pages=pages,
            dropped=[f for f in have if f not in keys],
            cards=cards,
            uncarded=[s for s in stamps if s not in fresh],
            groups=group_rows,
            ungrouped=[n for n in groups if n not in shown],
            names=names,
        )

    def _kept(self, name: str) -> bool:
        """The previous build wrote `name` and it is still in the output folder."""
        return name in self.state.file_hashes and (
            self._intact or (self.config.output_dir / name).is_file()
        )

    def _outputs(
        self, todo: list[Page], keys: dict[str, str], groups: list[Any]
    ) -> Iterator[tuple[str, bytes | Done | None]]:
        """Every output file with its bytes (or `Done`: dealt with by a worker), or None
        when it is unchanged and was neither rendered nor made. Streamed, so a large site is
        never held in memory at once."""
        rendering = {job.file for job in todo}
        yield from ((name, None) for name in keys if name not in rendering)
        made: dict[str, tuple[str, list[str]]] = {}
        work = _with_listings_batched(todo)
        batches: dict[str, list[FileGroup]] = {}
        for group, key, kept in groups:
            made[group.name] = (key, kept or [])
            if group.shows is not None:
                self._group_shows[group.name] = group.shows
            if kept is None and group.batch:
                batches.setdefault(group.batch, []).append(group)
            elif kept is None:
                work.append(group)  # feeds and sitemaps are made by the workers too
            yield from ((name, None) for name in kept or ())
        work += [GroupBatch(tuple(batch)) for batch in batches.values()]
        work = spread(work, _heavy)
        try:
            made_all = self._imap(_make_one, work, "render")
            for item, result in zip(work, made_all, strict=True):
                if isinstance(item, GroupBatch):
                    for group, group_files in zip(item.groups, result, strict=True):
                        made[group.name] = (made[group.name][0], [n for n, _ in group_files])
                        yield from group_files
                    continue
                if isinstance(item, FileGroup):
                    files = result[0]
                    made[item.name] = (made[item.name][0], [name for name, _ in files])
                    yield from files
                    continue
                if isinstance(item, PageBatch):
                    for page, page_made in zip(item.pages, result, strict=True):
                        yield from self._page_made(page, page_made, keys)
                    continue
                yield from self._page_made(item, result, keys)
        except jinja2.TemplateError as exc:
            raise SahifaError(f"template error: {exc}") from None
        self._pending_groups = made
        yield from self._images.items()
        yield from static_files(self.config)

    def _page_made(self, page: Page, made: Made, keys: dict[str, str]) -> Files:
        """Note what a worker made of a page (its key, its page-store row); its files."""
        files, key, row = made
        if key is not None:
            keys[page.file] = key
        if row is not None:
            self._rows.append((page.file, *_row_head(page), *row))
        return files

    def _drop(self, files: list[tuple[str, bytes]]) -> list[tuple[str, bytes | Done]]:
        """In a render worker: hash each file and write the changed ones into the build's
        new folder or staging folder here, so that the main process gets a digest instead of
        the bytes (10,000 articles: 650 MB less through the pipes, and the writing spread
        over the workers). Outside `_write` (no stage yet): the files themselves."""
        stage = self._stage
        if stage is None:
            return list(files)
        return [(name, self._settle(stage, name, data)) for name, data in files]

    def _settle(self, stage: Swap | Patch, name: str, data: bytes) -> Done:
        """Hash one file and write it into `stage` unless the site already has these bytes."""
        digest = hashlib.sha1(data).hexdigest()
        same = self.state.file_hashes.get(name) == digest and self._kept(name)
        if not same:
            stage.write_into(name, data)
        return Done(digest, not same)

    def _write(
        self,
        outputs: Iterator[tuple[str, bytes | Done | None]],
        expected: int,
        result: BuildResult,
    ) -> dict[str, str]:
        """Write what changed. Few changes (or `serve`): patched file by file; many: a new
        folder swapped in whole. Returns output file -> sha1 of its bytes."""
        root = self.config.output_dir
        old = self.state.file_hashes
        # `serve` patches in place the folder it made; a first build in place (nothing made
        # yet) swaps in a new folder, so that a cache made for the old one no longer vouches.
        patch = (self.in_place and bool(old)) or (
            self._intact and bool(old) and expected <= max(PATCH_MAX, len(old) // 4)
        )
        stage = Patch(root) if patch else Swap(root)
        self._stage = stage  # the render workers write into it
        hashes: dict[str, str] = {}
        try:
            for name, data in outputs:
                if name in hashes:
                    raise SahifaError(f"two pages want the same file {name!r}")
                if data is None:
                    hashes[name] = old[name]
                    stage.keep(name)
                    continue
                if not isinstance(data, Done):  # bytes made in this process: images, static
                    data = self._settle(stage, name, data)
                hashes[name] = data.digest
                if data.written:
                    stage.note_written(name)
                    result.written.append(name)
                else:
                    stage.keep(name)
            result.removed = sorted(set(old) - set(hashes))
            if not result.written and not result.removed:
                stage.abort()  # the site on disk is already this build's site
            else:
                # From here the saved cache describes the old site: drop it first, so a build
                # killed before `_save_state` is followed by a full build, not a stale one.
                self._forget_saved_state()
                stage.commit(result.removed)
        except BaseException:
            stage.abort()
            raise
        finally:
            self._stage = None
        if not self.in_place:
            clean_stale(root)  # what a killed build may have left behind
        return hashes


def _stat(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return (st.st_mtime_ns, st.st_size)


def _same_sources(before: dict[str, Source], now: dict[str, Source]) -> bool:
    return before.keys() == now.keys() and all(now[rel] is src for rel, src in before.items())


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Unpickle with the cyclic collector paused: loading a large State makes a million
    objects, and the collections they trigger walk the whole growing heap again and again
    (60 MB State of 10,000 articles: 0.8-1.2 s -> 0.35-0.42 s). Paused across all the
    shards, not each: re-enabled in between, it walks everything loaded so far again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


__all__ = ["Builder", "BuildResult", "OLD_PREFIX"]
