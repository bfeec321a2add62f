"""The build: read -> extract entities -> relate -> render -> write. One function per stage."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .config import Config
from .errors import ContentError
from .files import check_output_dir
from .model import Article, Site
from .readers import read_article

log = logging.getLogger("sahifa")


@dataclass
class BuildReport:
    articles: int = 0
    pages: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        total = sum(self.seconds.values())
        return f"{self.articles} articles, {self.pages} files in {total:.2f} s"


def load_manifest(path: Path | None) -> dict[str, dict[str, str]]:
    """Optional CSV with columns file,date[,category][,slug]: dates, sections and fixed URL
    names for scraped text files (which have no front matter to carry them)."""
    if path is None:
        return {}
    rows: dict[str, dict[str, str]] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            name = Path(row.get("file", "")).name
            rows[name] = {k: v for k, v in row.items() if k in ("date", "category", "slug") and v}
    return rows


def read_all(
    config: Config, files: list[tuple[str, Path]], keep_going: bool = False
) -> tuple[list[Article], list[str]]:
    manifest = load_manifest(config.manifest)
    articles: list[Article] = []
    skipped: list[str] = []
    for rel, path in files:
        try:
            raw = path.read_bytes()
            art = read_article(
                rel, raw, default_section=config.default_section, extra=manifest.get(path.name)
            )
        except ContentError as exc:
            if not keep_going:
                raise
            log.error("%s (skipped)", exc)
            skipped.append(str(exc))
            continue
        articles.append(art)
    return articles, skipped


def publishable(articles: list[Article], config: Config, now: datetime) -> list[Article]:
    """Drop drafts and scheduled (future) articles unless asked to include them."""
    out = []
    for art in articles:
        if art.draft and not config.drafts:
            continue
        if art.date and art.date > now and not config.future:
            log.info("%s: scheduled for %s, not published (use --future)", art.source, art.date)
            continue
        out.append(art)
    return out


def make_site(config: Config) -> Site:
    """The linked Site for `config`, without rendering it (the build's own read and link)."""
    from .incremental import Builder

    return Builder(config).site()


def build(config: Config, keep_going: bool = False, cache_dir: Path | None = None) -> BuildReport:
    """Build the whole site into config.output_dir; nothing is replaced unless all succeeds.

    With `cache_dir`, per-article work and unchanged pages are reused from the last build.
    """
    from .incremental import Builder

    check_output_dir(config)
    result = Builder(config, cache_dir=cache_dir).build(keep_going=keep_going)
    return BuildReport(result.articles, result.files, result.skipped, result.seconds)
