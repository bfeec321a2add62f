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
import os
import pickle
import shutil
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from . import __version__
from .config import Config
from .entities import Gazetteer, extract, load_gazetteer
from .errors import ContentError, SahifaError
from .model import Article
from .pipeline import discover, load_manifest, publishable
from .readers import read_article
from .render import context_key, make_env, page_jobs, render_job, site_files, static_files
from .site import assign_paths, link_site, newest_first
from .writer import OLD_PREFIX, TMP_PREFIX, check_inside, clean_stale, swap_into_place

log = logging.getLogger("sahifa")
CACHE_FORMAT = 1


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
    article: Article  # as read, entities extracted, before paths are assigned


@dataclass
class State:
    """Everything carried from one build to the next."""

    version: str = ""
    gaz_digest: str = ""
    sources: dict[str, Source] = field(default_factory=dict)
    page_keys: dict[str, str] = field(default_factory=dict)  # output file -> context key
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


class Builder:
    """Builds a site, keeping what it learnt for the next build."""

    def __init__(
        self, config: Config, *, in_place: bool = False, cache_dir: Path | None = None
    ) -> None:
        self.config = config
        self.in_place = in_place
        self.cache_dir = cache_dir
        self.version = code_version()
        self.state = self._load_state()
        self.gaz: Gazetteer | None = None

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
        if not self.config.output_dir.is_dir():
            state.page_keys, state.file_hashes = {}, {}
        return state

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

    def _gazetteer(self) -> tuple[Gazetteer, bool]:
        """The gazetteer, and whether it changed since the cached extraction."""
        site_file = self.config.content_dir / "entities.toml"
        data = site_file.read_bytes() if site_file.exists() else b""
        digest = hashlib.sha1(data).hexdigest()
        changed = digest != self.state.gaz_digest
        if self.gaz is None or changed:
            self.gaz = load_gazetteer(site_file)
        self.state.gaz_digest = digest
        return self.gaz, changed

    def _read(self, keep_going: bool, result: BuildResult) -> list[Article]:
        gaz, gaz_changed = self._gazetteer()
        manifest = load_manifest(self.config.manifest)
        sources: dict[str, Source] = {}
        articles: list[Article] = []
        for rel, path in discover(self.config.content_dir):
            st = path.stat()
            stat = (st.st_mtime_ns, st.st_size)
            old = self.state.sources.get(rel)
            if old is not None and old.stat == stat and not gaz_changed:
                sources[rel] = old
                articles.append(old.article)
                continue
            try:
                raw = path.read_bytes()
                extra = manifest.get(path.name)
                digest = hashlib.sha1(
                    raw + repr(sorted((extra or {}).items())).encode()
                ).hexdigest()
                if old is not None and old.digest == digest and not gaz_changed:
                    sources[rel] = Source(stat, digest, old.article)
                    articles.append(old.article)
                    continue
                art = read_article(
                    rel, raw, default_section=self.config.default_section, extra=extra
                )
            except ContentError as exc:
                if not keep_going:
                    raise
                log.error("%s (skipped)", exc)
                result.skipped.append(str(exc))
                continue
            art = replace(art, entities=extract(gaz, art))
            result.reread += 1
            sources[rel] = Source(stat, digest, art)
            articles.append(art)
        self._pending_sources = sources
        return articles

    def build(self, keep_going: bool = False) -> BuildResult:
        """One build. On error the previous output and cache stay as they were."""
        result = BuildResult()
        t0 = time.perf_counter()
        articles = self._read(keep_going, result)
        t1 = time.perf_counter()
        config = self.config
        articles = publishable(articles, config, datetime.now(UTC))
        ordered = tuple(newest_first(assign_paths(articles, config.ascii_slugs)))
        assert self.gaz is not None
        site = link_site(ordered, self.gaz, config.related_count, config.ascii_slugs)
        t2 = time.perf_counter()
        outputs, keys = self._render(site, result)
        t3 = time.perf_counter()
        self._write(outputs, keys, result)
        t4 = time.perf_counter()
        self.state.sources = self._pending_sources
        self._save_state()
        result.articles = len(site.articles)
        result.files = len(outputs)
        result.seconds = {"read": t1 - t0, "link": t2 - t1, "render": t3 - t2, "write": t4 - t3}
        return result

    def _render(
        self, site: object, result: BuildResult
    ) -> tuple[dict[str, bytes | None], dict[str, str]]:
        """Output file -> bytes, or None when the page is unchanged and need not be rendered."""
        config = self.config
        env = make_env(config)
        theme = tree_digest(config.theme_dir, config.templates_dir) + repr(config)
        outputs: dict[str, bytes | None] = {}
        keys: dict[str, str] = {}
        for job in page_jobs(site, config):  # type: ignore[arg-type]
            key = hashlib.sha1((theme + context_key(job)).encode()).hexdigest()
            keys[job.file] = key
            if self.state.page_keys.get(job.file) == key and job.file in self.state.file_hashes:
                outputs[job.file] = None
                continue
            try:
                outputs[job.file] = render_job(env, job)
            except jinja2.TemplateError as exc:
                raise SahifaError(f"{job.template}: {exc}") from None
            result.rendered += 1
        for name, data in [*site_files(site, config), *static_files(config)]:  # type: ignore[arg-type]
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
        if self.in_place:
            self._write_in_place(outputs, result)
        else:
            self._write_swap(outputs, hashes)
        self.state.file_hashes = hashes
        self.state.page_keys = keys

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
            swap_into_place(tmp, output)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _prune_empty(folder: Path, root: Path) -> None:
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


__all__ = ["Builder", "BuildResult", "OLD_PREFIX"]
