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

import hashlib
import logging
import multiprocessing as mp
import os
import pickle
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from . import __version__
from .config import Config
from .entities import (
    Gazetteer,
    article_candidates,
    extract,
    load_gazetteer,
    promote_discovered,
)
from .errors import ContentError, SahifaError
from .images import image_size, place_images
from .model import Article, EntityRef, Site
from .pipeline import discover, discover_images, load_manifest, publishable
from .readers import read_article, source_digest
from .render import (
    PageJob,
    context_key,
    make_env,
    page_jobs,
    render_job,
    site_files,
    static_files,
)
from .site import assign_paths, link_site, newest_first
from .writer import OLD_PREFIX, TMP_PREFIX, check_inside, clean_stale, swap_into_place

log = logging.getLogger("sahifa")
CACHE_FORMAT = 5


def code_version() -> str:
    """Changes whenever Sahifa's code or built-in data change: old caches are then ignored."""
    h = hashlib.sha1(f"{__version__}|{CACHE_FORMAT}".encode())
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".toml", ".js") and "__pycache__" not in path.parts:
            h.update(path.relative_to(package).as_posix().encode() + path.read_bytes())
    return h.hexdigest()


def tree_digest(*roots: Path | None) -> str:
    """Hash of every file under the given folders (the templates and their static files)."""
    h = hashlib.sha1()
    for root in roots:
        if root is None or not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file():
                h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@dataclass
class Source:
    """What the cache keeps for one content file."""

    stat: tuple[int, int]  # (mtime_ns, size)
    digest: str
    article: Article  # as read, before entities and paths
    refs: tuple[EntityRef, ...] = ()
    gaz_key: str = ""  # the site gazetteer `refs` were extracted with
    candidates: tuple[tuple[str, str], ...] = ()  # names discovered here, not in the base list
    base_key: str = ""  # the base gazetteer `candidates` were found with


@dataclass
class State:
    """Everything carried from one build to the next."""

    version: str = ""
    sources: dict[str, Source] = field(default_factory=dict)
    page_keys: dict[str, str] = field(default_factory=dict)  # output file -> context key
    inputs_key: str = ""  # digest of every input of the last complete build
    output_id: tuple[int, int] | None = None  # (device, inode) of the output folder written
    site_key: str = ""  # digest of all page keys when the site files below were made
    site_files: list[str] = field(default_factory=list)  # feeds, sitemaps, search index
    file_hashes: dict[str, str] = field(default_factory=dict)  # output file -> sha1 of bytes


@dataclass
class BuildResult:
    articles: int = 0
    files: int = 0
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rendered: int = 0
    reread: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def css_only(self) -> bool:
        return (
            bool(self.written)
            and not self.removed
            and all(f.endswith(".css") for f in self.written)
        )

    def summary(self) -> str:
        total = sum(self.seconds.values())
        return (
            f"{self.articles} articles, {self.files} files ({len(self.written)} written, "
            f"{self.rendered} rendered) in {total:.2f} s"
        )


PARALLEL_MIN = 64  # below this many items, starting processes costs more than it saves
_WORKER_BUILDER: Builder | None = None  # the running build, set just before work is mapped


def _read_one(item: tuple[str, bytes, dict[str, str] | None, tuple[int, int], str]) -> Any:
    """Read one article; a ContentError is returned, not raised (it must cross processes)."""
    builder = _WORKER_BUILDER
    assert builder is not None
    rel, raw, extra, _, _ = item
    try:
        return read_article(rel, raw, default_section=builder.config.default_section, extra=extra)
    except ContentError as exc:
        return exc


def _candidates_one(article: Article) -> tuple[tuple[str, str], ...]:
    builder = _WORKER_BUILDER
    assert builder is not None and builder._base is not None
    return article_candidates(builder._base[0], article)


def _extract_one(article: Article) -> tuple[EntityRef, ...]:
    builder = _WORKER_BUILDER
    assert builder is not None and builder.gaz is not None
    return extract(builder.gaz, article)


def _render_one(index: int) -> bytes:
    builder = _WORKER_BUILDER
    assert builder is not None
    return render_job(builder._env, builder._jobs[index])


class Builder:
    """Builds a site, keeping what it learnt for the next build."""

    def __init__(
        self,
        config: Config,
        *,
        in_place: bool = False,
        cache_dir: Path | None = None,
        jobs: int = 1,
    ) -> None:
        self.config = config
        self.jobs = max(1, jobs)
        self._jobs: list[PageJob] = []
        self._env: jinja2.Environment | None = None
        self._theme = ""
        self._intact = False
        self._images: dict[str, bytes] = {}
        self._images_key = ""
        self._pending_site: tuple[str, list[str]] | None = None
        self.in_place = in_place
        self.cache_dir = cache_dir
        self.version = code_version()
        self.state = self._load_state()
        self.gaz: Gazetteer | None = None
        self._gaz_key = ""
        self._base: tuple[Gazetteer, str] | None = None

    # -- the cache file --------------------------------------------------------------------------

    def _cache_file(self) -> Path | None:
        return self.cache_dir / "state.pickle" if self.cache_dir else None

    def _load_state(self) -> State:
        path = self._cache_file()
        if path is None or not path.exists():
            return State(version=self.version)
        try:
            with open(path, "rb") as handle:
                state = pickle.load(handle)
            if not isinstance(state, State) or state.version != self.version:
                raise ValueError("cache from another version")
        except Exception as exc:  # a cache is never trusted: anything odd means start afresh
            log.info("ignoring build cache %s (%s)", path, exc)
            return State(version=self.version)
        if _folder_id(self.config.output_dir) != state.output_id:
            # The output folder is not the one this cache describes (deleted, or replaced by a
            # build that did not use the cache): keep the per-article work, forget the pages.
            state.page_keys, state.file_hashes = {}, {}
            state.site_key = state.inputs_key = ""
        return state

    def _forget_saved_state(self) -> None:
        path = self._cache_file()
        if path is not None:
            path.unlink(missing_ok=True)

    def _save_state(self) -> None:
        path = self._cache_file()
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as handle:
            pickle.dump(self.state, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)

    # -- stages ----------------------------------------------------------------------------------

    def _base_gazetteer(self) -> tuple[Gazetteer, str]:
        """The built-in list plus the site's entities.toml, and a digest of what it was made of."""
        site_file = self.config.content_dir / "entities.toml"
        data = site_file.read_bytes() if site_file.exists() else b""
        digest = hashlib.sha1(data).hexdigest()
        if self._base is None or digest != self._base[1]:
            self._base = (load_gazetteer(site_file), digest)
        return self._base

    def _site_gazetteer(self, sources: list[Source]) -> tuple[Gazetteer, str]:
        """The gazetteer every article is matched against in this build: the base list, the
        names discovered in at least two articles, and every name an article declares in its
        front matter. Built before extraction so that extraction never depends on the order
        articles are read in. Discovery per article is cached like extraction."""
        base, base_digest = self._base_gazetteer()
        stale = [src for src in sources if src.base_key != base_digest]
        found = self._map(_candidates_one, [src.article for src in stale])
        for src, cands in zip(stale, found, strict=True):
            src.candidates, src.base_key = cands, base_digest
        promoted = sorted({c for src in sources for c in src.candidates})
        declared = sorted({name for src in sources for name in src.article.declared_entities})
        parts = [base_digest, *(f"{n}:{t}" for n, t in promoted), "|", *declared]
        key = hashlib.sha1("\x1f".join(parts).encode()).hexdigest()
        if self.gaz is None or key != self._gaz_key:
            gaz = promote_discovered(base, (src.candidates for src in sources))
            register = Article(source="", title="", slug="", section="", body_html="", text="")
            extract(gaz, replace(register, declared_entities=tuple(declared)))
            self.gaz, self._gaz_key = gaz, key
        return self.gaz, key

    def _read(self, keep_going: bool, result: BuildResult) -> list[Article]:
        """Read what changed (by bytes), then extract entities where the article or the
        site-wide gazetteer changed. Returns articles with entities, in source order."""
        manifest = load_manifest(self.config.manifest)
        sources: dict[str, Source] = {}
        todo: list[tuple[str, bytes, dict[str, str] | None, tuple[int, int], str]] = []
        order: list[str] = []
        for rel, path in discover(self.config.content_dir, result.skipped if keep_going else None):
            order.append(rel)
            st = path.stat()
            stat = (st.st_mtime_ns, st.st_size)
            old = self.state.sources.get(rel)
            if old is not None and old.stat == stat:
                sources[rel] = old
                continue
            raw = path.read_bytes()
            extra = manifest.get(path.name)
            digest = source_digest(raw, extra)
            if old is not None and old.digest == digest:
                sources[rel] = replace(old, stat=stat)
                continue
            todo.append((rel, raw, extra, stat, digest))
        for (rel, _, _, stat, digest), outcome in zip(
            todo, self._map(_read_one, todo), strict=True
        ):
            if isinstance(outcome, ContentError):
                if not keep_going:
                    raise outcome
                log.error("%s (skipped)", outcome)
                result.skipped.append(str(outcome))
                continue
            sources[rel] = Source(stat, digest, outcome)
        result.reread = len(todo)
        present = [sources[rel] for rel in order if rel in sources]
        _, gaz_key = self._site_gazetteer(present)
        stale = [src for src in present if src.gaz_key != gaz_key]
        for src, refs in zip(
            stale, self._map(_extract_one, [s.article for s in stale]), strict=True
        ):
            src.refs, src.gaz_key = refs, gaz_key
        self._pending_sources = sources
        return [replace(src.article, entities=src.refs) for src in present]

    def _map(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        """fn over items in order; across `jobs` forked processes when there is enough work.
        Workers inherit the build's state by fork, so only items and results are pickled."""
        global _WORKER_BUILDER
        _WORKER_BUILDER = self
        try:
            if (
                self.jobs <= 1
                or len(items) < PARALLEL_MIN
                or "fork" not in mp.get_all_start_methods()
            ):
                return [fn(item) for item in items]
            ctx = mp.get_context("fork")
            chunk = max(1, len(items) // (self.jobs * 8))
            with ctx.Pool(self.jobs) as pool:
                return pool.map(fn, items, chunksize=chunk)
        finally:
            _WORKER_BUILDER = None

    def build(self, keep_going: bool = False) -> BuildResult:
        """One build. On error the previous output and cache stay as they were."""
        result = BuildResult()
        t0 = time.perf_counter()
        articles = self._read(keep_going, result)
        t1 = time.perf_counter()
        config = self.config
        articles = publishable(articles, config, datetime.now(UTC))
        articles = self._place_images(articles)
        # The whole site is a function of its inputs: when none changed and the output is
        # still there, there is nothing to link, render or write.
        inputs = self._inputs_key(articles)
        self._intact = self._output_intact()
        if inputs == self.state.inputs_key and not result.skipped and self._intact:
            self._finish_unchanged(result, len(articles), t0, t1)
            return result
        site = self._link(articles, result.skipped if keep_going else None)
        t2 = time.perf_counter()
        outputs, keys = self._render(site, result)
        t3 = time.perf_counter()
        self._write(outputs, keys, result)
        t4 = time.perf_counter()
        self.state.sources = self._pending_sources
        self.state.inputs_key = "" if result.skipped else inputs
        self.state.output_id = _folder_id(config.output_dir)
        self._save_state()
        result.articles = len(site.articles)
        result.files = len(outputs)
        result.seconds = {"read": t1 - t0, "link": t2 - t1, "render": t3 - t2, "write": t4 - t3}
        return result

    def site(self) -> Site:
        """Read and link the site without rendering or writing it (for tools and tests)."""
        articles = publishable(self._read(False, BuildResult()), self.config, datetime.now(UTC))
        return self._link(self._place_images(articles), None)

    def _link(self, articles: list[Article], refused: list[str] | None) -> Site:
        """The site-wide step, from scratch every build: URLs, sections, entities, related."""
        config = self.config
        ordered = tuple(newest_first(assign_paths(articles, config.ascii_slugs, refused)))
        assert self.gaz is not None
        return link_site(ordered, self.gaz, config.related_count, config.ascii_slugs)

    def _place_images(self, articles: list[Article]) -> list[Article]:
        """Read content/'s images (published as they are) and size the <img> that show them."""
        self._images = {
            rel: path.read_bytes() for rel, path in discover_images(self.config.content_dir)
        }
        sizes = {
            f"/{rel}": size for rel, data in self._images.items() if (size := image_size(data))
        }
        listing = "".join(
            f"{rel}:{hashlib.sha1(data).hexdigest()}" for rel, data in sorted(self._images.items())
        )
        self._images_key = hashlib.sha1(listing.encode()).hexdigest()
        base = self.config.base_path
        return [
            replace(a, body_html=placed)
            if (placed := place_images(a.body_html, sizes, base)) != a.body_html
            else a
            for a in articles
        ]

    def _inputs_key(self, articles: list[Article]) -> str:
        """Digest of everything a build reads: code, templates, config, gazetteer, articles."""
        config = self.config
        theme = tree_digest(config.theme_dir, config.templates_dir)
        parts = [self.version, theme, repr(config), self._gaz_key, self._images_key]
        parts += [f"{a.source}:{a.digest}" for a in articles]
        return hashlib.sha1("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()

    def _output_intact(self) -> bool:
        root = self.config.output_dir
        names = self.state.file_hashes
        return bool(names) and root.is_dir() and all((root / name).is_file() for name in names)

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

    def _render(
        self, site: Site, result: BuildResult
    ) -> tuple[dict[str, bytes | None], dict[str, str]]:
        """Output file -> bytes, or None when the page is unchanged and need not be rendered."""
        config = self.config
        theme = (
            tree_digest(config.theme_dir, config.templates_dir) + repr(config) + self._images_key
        )
        if self._env is None or theme != self._theme:
            # Keep compiled templates between builds (serve) until a template changes.
            self._env, self._theme = make_env(config), theme
        outputs: dict[str, bytes | None] = {}
        keys: dict[str, str] = {}
        memo: dict[int, tuple[Any, str]] = {}
        self._jobs = []
        for job in page_jobs(site, config):
            key = hashlib.sha1((theme + context_key(job, memo)).encode()).hexdigest()
            keys[job.file] = key
            outputs[job.file] = None
            if (
                self.state.page_keys.get(job.file) != key
                or job.file not in self.state.file_hashes
                or not (self._intact or (config.output_dir / job.file).is_file())
            ):
                self._jobs.append(job)
        try:
            rendered = self._map(_render_one, list(range(len(self._jobs))))
        except jinja2.TemplateError as exc:
            raise SahifaError(f"template error: {exc}") from None
        for job, data in zip(self._jobs, rendered, strict=True):
            outputs[job.file] = data
        result.rendered = len(self._jobs)
        self._jobs = []
        # Feeds, sitemaps and the search index depend on every page's inputs: when none
        # changed, the previous build's files are reused without being made again.
        site_key = hashlib.sha1("".join([theme, *keys.values()]).encode()).hexdigest()
        reuse = (
            site_key == self.state.site_key
            and self._intact
            and all(name in self.state.file_hashes for name in self.state.site_files)
        )
        if reuse:
            outputs.update(dict.fromkeys(self.state.site_files))
        else:
            made = dict(site_files(site, config))
            outputs.update(made)
            self._pending_site = (site_key, sorted(made))
        for name, data in [*self._images.items(), *static_files(config)]:
            outputs[name] = data
        return outputs, keys

    def _write(
        self, outputs: dict[str, bytes | None], keys: dict[str, str], result: BuildResult
    ) -> None:
        old_hashes = self.state.file_hashes
        hashes: dict[str, str] = {}
        for name, data in outputs.items():
            hashes[name] = old_hashes[name] if data is None else hashlib.sha1(data).hexdigest()
            if data is not None and old_hashes.get(name) != hashes[name]:
                result.written.append(name)
        result.removed = sorted(set(old_hashes) - set(outputs))
        if not result.written and not result.removed and self._output_complete(outputs):
            # Nothing to write: the site on disk is already this build's site. Still clear
            # what a killed build left behind.
            if not self.in_place:
                clean_stale(self.config.output_dir)
        elif self.in_place:
            self._write_in_place(outputs, result)
        else:
            self._write_swap(outputs, hashes)
        self.state.file_hashes = hashes
        self.state.page_keys = keys
        if self._pending_site is not None:
            self.state.site_key, self.state.site_files = self._pending_site
            self._pending_site = None

    def _output_complete(self, outputs: dict[str, bytes | None]) -> bool:
        root = self.config.output_dir
        return root.is_dir() and all((root / name).is_file() for name in outputs)

    def _write_in_place(self, outputs: dict[str, bytes | None], result: BuildResult) -> None:
        root = self.config.output_dir
        root.mkdir(parents=True, exist_ok=True)
        for name in result.written:
            data = outputs[name]
            assert data is not None
            target = check_inside(root, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.sahifa-tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
        for name in result.removed:
            target = check_inside(root, name)
            target.unlink(missing_ok=True)
            _prune_empty(target.parent, root)

    def _write_swap(self, outputs: dict[str, bytes | None], hashes: dict[str, str]) -> None:
        output = self.config.output_dir
        output.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(output)
        tmp = output.parent / f"{TMP_PREFIX}{output.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            for name, data in outputs.items():
                target = check_inside(tmp, name)
                target.parent.mkdir(parents=True, exist_ok=True)
                old = output / name
                if (
                    data is None or self.state.file_hashes.get(name) == hashes[name]
                ) and old.is_file():
                    os.link(old, target)  # unchanged: no rendering, no writing, same inode
                elif data is None:
                    raise SahifaError(f"cache says {name} is unchanged but it is missing")
                else:
                    target.write_bytes(data)
            # Once site/ is swapped the saved cache describes the old site: drop it first, so a
            # build killed before `_save_state` is followed by a full build, not a stale one.
            self._forget_saved_state()
            swap_into_place(tmp, output)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _folder_id(folder: Path) -> tuple[int, int] | None:
    """Identifies one output folder: each complete build swaps in a new one."""
    try:
        st = folder.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _prune_empty(folder: Path, root: Path) -> None:
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


__all__ = ["Builder", "BuildResult", "OLD_PREFIX"]
