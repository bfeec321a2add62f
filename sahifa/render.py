"""Render the Site with Jinja into {output path: bytes}. Never reads content files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2

from .arabic import format_date, lang_direction
from .config import Config
from .errors import TemplateError
from .model import Article, Site
from .pages import Pager, paginate
from .share import share_links
from .urls import encode_path

TOC_MIN_HEADINGS = 3


def make_env(config: Config) -> jinja2.Environment:
    """Templates from the site's own folder first, then the default theme."""
    dirs = [d for d in (config.templates_dir, config.theme_dir) if d is not None]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    base = config.base_path

    def url(path: str) -> str:
        """A root-relative link that works under a sub-path base URL ('/news/...')."""
        return base + path.lstrip("/")

    def abs_url(path: str) -> str:
        return config.base_url + encode_path(path.lstrip("/"))

    env.globals.update(url=url, abs_url=abs_url, config=config)
    env.filters["arabic_date"] = lambda d: format_date(d, config.months, config.digits) if d else ""
    env.filters["iso"] = lambda d: d.isoformat() if d else ""
    return env


def _render(env: jinja2.Environment, name: str, **context: Any) -> bytes:
    try:
        return env.get_template(name).render(**context).encode("utf-8")
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template not found: {exc.name}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"{_template_line(exc, name)}: {exc.message}") from None


def _template_line(exc: Exception, fallback: str) -> str:
    """File and line of the innermost template frame in a render-time traceback."""
    tb = exc.__traceback__
    where = fallback
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename.endswith((".html", ".xml", ".txt")) or "template" in code.co_name:
            where = f"{code.co_filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def output_file(path: str) -> str:
    """'/a/b/' -> 'a/b/index.html'."""
    inner = path.strip("/")
    return f"{inner}/index.html" if inner else "index.html"


def article_context(site: Site, article: Article, config: Config) -> dict[str, Any]:
    page_url = config.base_url + encode_path(article.path.lstrip("/"))
    refs = [(site.entities[r.name], r) for r in article.entities if r.name in site.entities]
    return {
        "article": article,
        "dir": lang_direction(article.lang),
        "share": share_links(page_url, article.title),
        "related": site.related.get(article.source, ()),
        "entities": [e for e, _ in sorted(refs, key=lambda er: (-er[1].count, er[0].name))],
        "show_toc": len(article.headings) >= TOC_MIN_HEADINGS,
        "section_path": site.section_paths[article.section],
        "page_url": page_url,
    }


TYPE_LABELS = (
    ("place", "أماكن"),
    ("person", "أشخاص"),
    ("organisation", "منظمات"),
    ("other", "أخرى"),
)


def entity_groups(site: Site) -> list[tuple[str, list[tuple[Any, int]]]]:
    """Entities by type, most mentioned first (then by name)."""
    groups = []
    for type_, label in TYPE_LABELS:
        items = [
            (e, len(site.entity_articles[n])) for n, e in site.entities.items() if e.type == type_
        ]
        items.sort(key=lambda ec: (-ec[1], ec[0].name))
        if items:
            groups.append((label, items))
    return groups


def render_site(site: Site, config: Config) -> Iterator[tuple[str, bytes]]:
    """Yield (relative output file, bytes) for every page of the site."""
    env = make_env(config)
    common = {"site": site, "sections": list(site.section_paths.items())}
    for article in site.articles:
        ctx = article_context(site, article, config)
        yield output_file(article.path), _render(env, "article.html", **common, **ctx)
    yield from _listing(env, common, "home.html", site.articles, "/", config, title=config.title)
    for name, items in site.sections.items():
        yield from _listing(
            env, common, "section.html", items, site.section_paths[name], config, title=name
        )
    for name, entity in site.entities.items():
        yield from _listing(
            env, common, "entity.html", site.entity_articles[name], f"/entity/{entity.slug}/", config,
            title=name, entity=entity, co_entities=site.co_entities.get(name, ()),
        )  # fmt: skip
    yield (
        "entity/index.html",
        _render(
            env, "entities.html", **common, title="الأعلام والأماكن", groups=entity_groups(site)
        ),
    )
    yield "404.html", _render(env, "404.html", **common, title="الصفحة غير موجودة")


def _listing(
    env: jinja2.Environment,
    common: dict[str, Any],
    template: str,
    items: tuple[Article, ...],
    base: str,
    config: Config,
    **extra: Any,
) -> Iterator[tuple[str, bytes]]:
    for pager in paginate(items, base, config.per_page):
        yield output_file(pager.path), _render(env, template, **common, pager=pager, **extra)


def static_files(config: Config) -> Iterator[tuple[str, bytes]]:
    """The theme's static folder, with the site's own files of the same name taking over."""
    seen: dict[str, Path] = {}
    for root in (config.theme_dir, config.templates_dir):
        if root is None or not (root / "static").is_dir():
            continue
        for path in sorted((root / "static").rglob("*")):
            if path.is_file():
                seen[path.relative_to(root).as_posix()] = path
    for rel in sorted(seen):
        yield rel, seen[rel].read_bytes()


__all__ = ["Pager", "render_site", "static_files", "output_file", "make_env"]
