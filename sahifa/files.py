"""The content folder's files and the output folder's safety: walked once per build, kept
light (no parser, no templates) so that a build that changes nothing can be told from these
and the cache alone (`fingerprint.py`)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from .config import Config
from .errors import ConfigError, ContentError
from .images import IMAGE_SUFFIXES

log = logging.getLogger("sahifa")
CONTENT_SUFFIXES = (".md", ".txt")

Listing = list[tuple[str, os.DirEntry[str]]]  # one walk of content/ (`walk`)


def walk(content: Path) -> Listing:
    """Every file under content/ as (relative path, entry), in order; hidden and `_` names
    skipped, linked folders not followed. One walk serves `discover` and `discover_images`."""
    return list(_walk(str(content), ""))


def discover(
    content: Path,
    skipped: list[str] | None = None,
    quiet: bool = False,
    listing: Listing | None = None,
) -> list[tuple[str, Path]]:
    """Content files as (path relative to content/, file), sorted; hidden files ignored.

    A symlink that points outside content/ is refused: a build must never publish a file
    the content folder does not own. With `skipped` (--keep-going) it is reported there and
    left out instead of stopping the build. Linked folders are not followed.
    """
    return [(rel, content / rel) for rel, _ in content_paths(content, skipped, quiet, listing)]


def content_paths(
    content: Path,
    skipped: list[str] | None = None,
    quiet: bool = False,
    listing: Listing | None = None,
) -> list[tuple[str, str]]:
    """`discover` with each file's path as a string: the quick check stats every file and
    needs no Path objects (10,000 of them cost ~0.05 s)."""
    if not content.is_dir():
        raise ContentError(str(content), "content folder not found")
    root = content.resolve()
    found: list[tuple[str, str]] = []
    for rel, entry in _walk(str(content), "") if listing is None else listing:
        if not rel.lower().endswith(CONTENT_SUFFIXES) or not entry.is_file():
            continue
        # Only a link can lead out of content/ (linked folders are not walked): resolve
        # just those, not every file (a stat per path component on a 100,000-file site).
        if entry.is_symlink() and not Path(entry.path).resolve().is_relative_to(root):
            exc = ContentError(rel, "is a link to a file outside the content folder")
            if skipped is None:
                raise exc
            if not quiet:
                log.error("%s (skipped)", exc)
            skipped.append(str(exc))
            continue
        found.append((rel, entry.path))
    return sorted(found)


def hidden(rel: str) -> bool:
    """A path the build never reads: any part starting with '.' or '_'."""
    return any(part.startswith((".", "_")) for part in rel.split("/"))


def _walk(folder: str, prefix: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(relative path, entry) under folder; names starting with '.' or '_' are skipped, and
    linked folders are not followed."""
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.startswith((".", "_")):
                continue
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(entry.path, rel + "/")
            else:
                yield rel, entry


def discover_images(content: Path, listing: Listing | None = None) -> list[tuple[str, Path]]:
    """Images in content/ (any depth, hidden and `_` names skipped), published at the same
    path: `content/images/souk.jpg` is `/images/souk.jpg`. Links out of content/ are skipped."""
    if not content.is_dir():
        return []
    root = content.resolve()
    found = []
    for rel, entry in walk(content) if listing is None else listing:
        dot = rel.rfind(".")
        if dot < 0 or rel[dot:].lower() not in IMAGE_SUFFIXES or not entry.is_file():
            continue
        path = content / rel
        if not entry.is_symlink() or path.resolve().is_relative_to(root):
            found.append((rel, path))
    return sorted(found)


def check_output_dir(config: Config) -> None:
    """Refuse an output folder whose replacement would delete the user's own files: the build
    swaps the whole folder, so `--output content` would otherwise throw the articles away."""
    out = config.output_dir.resolve()
    if out == Path(out.anchor) or out == Path.home().resolve():
        raise ConfigError(f"refusing to use {config.output_dir} as the output folder")
    mine = (
        ("content", config.content_dir),
        ("templates", config.templates_dir),
        ("theme", config.theme_dir),
        ("current", Path.cwd()),
    )
    for label, folder in mine:
        if folder is not None and folder.resolve().is_relative_to(out):
            raise ConfigError(
                f"the output folder {config.output_dir} is or holds the {label} folder {folder}, "
                "and a build replaces the whole output folder: choose another --output"
            )
