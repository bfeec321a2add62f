"""What a build reads, as one digest, and the saved `Index` that proves a build would change
nothing. Kept light (no parser, templates or entity lists) so that `python build.py` on an
unchanged site answers before importing them (`nothing_changed`); the Builder uses the same
functions."""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from . import __version__
from .config import Config, config_id, search_enabled
from .files import Listing, content_paths, discover_images, walk

Stats = dict[str, tuple[int, int]]  # content file (relative path) -> (mtime_ns, size)

CACHE_FORMAT = 15


# Libraries whose version can change the bytes of a site: cached articles hold Markdown's HTML
# and slugs, and pages are kept from earlier builds, so an upgrade must not leave a site half
# made by the old version. (The index format keys the search shards: `search.bundle_key`.)
OUTPUT_LIBRARIES = ("markdown-it-py", "mdurl", "python-slugify", "text-unidecode", "PyYAML",
                    "Jinja2", "MarkupSafe")  # fmt: skip


def library_versions() -> str:
    """The installed versions of OUTPUT_LIBRARIES and of Python (~15 ms, metadata only)."""
    found = []
    for name in OUTPUT_LIBRARIES:
        try:
            found.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name}=-")
    return f"{sys.version}|{'|'.join(found)}"


def code_version() -> str:
    """Changes whenever Sahifa's code or built-in data change, or a library that shapes the
    output (`library_versions`): old caches are then ignored."""
    h = hashlib.sha1(f"{__version__}|{CACHE_FORMAT}|{library_versions()}".encode())
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


def folder_id(folder: Path) -> tuple[int, int] | None:
    """Identifies one output folder: each complete build swaps in a new one."""
    try:
        st = folder.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


@dataclass
class Index:
    """A few kilobytes saved beside the State: enough to tell that nothing changed since the
    last build without loading the State itself (hundreds of MB on a large site)."""

    version: str
    quick_key: str  # digest of every input's name and stat (`quick_key`)
    horizon: float | None  # when the next scheduled article falls due (then: a real build)
    output_id: tuple[int, int] | None
    files: list[str]  # the output files, which must all still be there
    articles: int
    state_stat: tuple[int, int, int]  # (inode, mtime_ns, size) of the State it vouches for
    # The two halves of `quick_key`: everything but the content files (`rest_key`), and each
    # content file's stat. A build whose rest is the same can tell which articles changed
    # without loading the State (`Builder._edit_pages`).
    rest: str = ""
    stats: Stats = field(default_factory=dict)


@dataclass
class BuildResult:
    articles: int = 0
    files: int = 0
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rendered: int = 0
    reread: int = 0
    extracted: int = 0  # articles whose entities were searched for again
    groups: int = 0  # feed, sitemap and search groups made again
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    quick: bool = False  # only the pages showing the edited articles were rendered (`quickedit`)

    @property
    def css_only(self) -> bool:
        return (
            bool(self.written)
            and not self.removed
            and all(f.endswith(".css") for f in self.written)
        )

    def stages(self) -> str:
        """Time and counts per stage, for `-v`."""
        counts = {
            "read": f"{self.reread} read, {self.extracted} searched for entities",
            "plan": f"{self.rendered} pages to render, {self.groups} feed/sitemap groups to make",
            "render+write": f"{len(self.written)} written, {len(self.removed)} removed",
        }
        line = ", ".join(
            f"{stage} {secs:.2f} s" + (f" ({counts[stage]})" if stage in counts else "")
            for stage, secs in self.seconds.items()
        )
        pages = "1 page" if self.rendered == 1 else f"{self.rendered} pages"
        return f"{line} (quick build: {pages} showing the edited articles)" if self.quick else line

    def summary(self) -> str:
        total = sum(self.seconds.values())
        return (
            f"{self.articles} articles, {self.files} files ({len(self.written)} written, "
            f"{self.rendered} rendered) in {total:.2f} s"
        )


def quick_key(config: Config, version: str, listing: Listing, stats: Stats | None = None) -> str:
    """Names and stats of everything a build reads (content, images, manifest, the site's
    entities.toml), the templates' bytes, the config and the code version. Given `stats`,
    each content file's (mtime_ns, size) is put there by its path relative to content/: the
    build that follows records them instead of taking every stat again."""
    return quick_keys(config, version, listing, stats)[0]


def quick_keys(
    config: Config, version: str, listing: Listing, stats: Stats | None = None
) -> tuple[str, str]:
    """`quick_key`, and the digest of all it covers but the content files (`rest`)."""
    rest = [version, config_id(config), tree_digest(config.theme_dir, config.templates_dir)]
    rest.append(repr(search_enabled(config)))  # SAHIFA_SEARCH=0 is not in the config
    extra = [config.manifest, config.content_dir / "entities.toml"]
    # A refused file (a link out of content/) is left to the real read to report.
    articles = content_paths(config.content_dir, [], True, listing)
    others = discover_images(config.content_dir, listing) + [("", p) for p in extra if p]
    parts: list[str] = []
    for files, out in ((others, rest), (articles, parts)):
        for rel, path in files:
            try:
                st = os.stat(path)
            except OSError:
                out.append(f"{path}:-")
                continue
            out.append(f"{path}:{st.st_mtime_ns}:{st.st_size}")
            if stats is not None and rel and out is parts:
                stats[rel] = (st.st_mtime_ns, st.st_size)
    rest_key = _sha1(rest)
    return _sha1([rest_key, *parts]), rest_key


def _sha1(parts: list[str]) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def unchanged(
    config: Config, cache_dir: Path, version: str, quick: str, started: float
) -> BuildResult | None:
    """The result of a build that changes nothing, when the saved Index proves it (`quick`:
    this build's `quick_key`); None when a real build is needed."""
    index = _saved_index(config, cache_dir, version, quick)
    if index is None:
        return None
    return BuildResult(
        articles=index.articles,
        files=len(index.files),
        seconds={"check": time.perf_counter() - started},
    )


@dataclass(frozen=True)
class Fingerprint:
    """One build's look at its inputs, taken before anything is read: the code version, the
    walk of content/ and their `quick_key`. Handed on to the Builder when the site did change,
    so it neither walks nor stats the content a second time."""

    version: str
    listing: Listing
    quick: str
    stats: Stats = field(default_factory=dict)  # each content file's stat, as `quick` saw it
    rest: str = ""  # `quick_keys`: the digest of all but the content files


def nothing_changed(config: Config, cache_dir: Path) -> tuple[BuildResult | None, Fingerprint]:
    """`unchanged` from nothing but the files: what `python build.py` tries before it loads
    the parser, the templates and the entity lists (a third of a second of imports)."""
    started = time.perf_counter()
    version = code_version()
    content = config.content_dir
    listing = walk(content) if content.is_dir() else []
    stats: Stats = {}
    quick, rest = quick_keys(config, version, listing, stats)
    taken = Fingerprint(version, listing, quick, stats, rest)
    return unchanged(config, cache_dir, version, taken.quick, started), taken


def load_index(cache_dir: Path, version: str) -> Index | None:
    """The saved Index of this code version, or None (missing, odd, or another version)."""
    try:
        with open(cache_dir / "index.pickle", "rb") as handle:
            index = pickle.load(handle)
    except Exception:  # like the State: never trusted when odd
        return None
    return index if isinstance(index, Index) and index.version == version else None


def vouches(index: Index, config: Config, cache_dir: Path) -> bool:
    """The Index is the one saved with the State beside it, for this output folder, and no
    scheduled article has fallen due since."""
    try:
        st = os.stat(cache_dir / "state.pickle")
    except OSError:
        return False
    return (
        index.state_stat == (st.st_ino, st.st_mtime_ns, st.st_size)
        and (index.horizon is None or time.time() < index.horizon)
        and folder_id(config.output_dir) == index.output_id
    )


def _saved_index(config: Config, cache_dir: Path, version: str, quick: str) -> Index | None:
    """The saved Index when it proves that this build would change nothing."""
    index = load_index(cache_dir, version)
    if index is None or index.quick_key != quick or not vouches(index, config, cache_dir):
        return None
    return index if all_present(config.output_dir, index.files) else None


def all_present(root: Path, names: Iterable[str]) -> bool:
    """Every one of `names` (relative paths) is in the folder `root`. access() relative to
    the open folder: half the time of an isfile() per full path (26,000 files: ~0.06 s)."""
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        access, exists = os.access, os.F_OK
        return all(access(name, exists, dir_fd=fd) for name in names)
    finally:
        os.close(fd)
