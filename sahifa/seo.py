"""Head metadata built in Python: canonical URL, feeds, Open Graph, Twitter card, JSON-LD.

`templates/head-meta.html` calls `head_meta()` (a Jinja global with the page's context), so
the renderer needs no per-page plumbing: the page kind is read from what the context holds
(`article`, `pager`, `entity`, `groups`, or an explicit `page_path`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup

from .config import Config
from .model import Article, Entity
from .publish import absolute, absolute_at, feed_links, modified

SCHEMA = "https://schema.org"
OG_LOCALES = {"ar": "ar_AR", "en": "en_US", "fr": "fr_FR"}
SCHEMA_TYPES = {"place": "Place", "person": "Person", "organisation": "Organization"}
HOME_NAME = "الرئيسية"
ENTITIES_NAME = "الأعلام والأماكن"
_PAGE_N = re.compile(r"page/\d+/$")

_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def json_ld(data: Any) -> Markup:
    """JSON for a `<script type="application/ld+json">`: `<`, `>` and `&` are written as
    \\u escapes, so no value (say a title with `</script>`) can end the script element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in _JSON_ESCAPES.items():  # `in` is ~1 us a page, a regex scan ~5
        if char in text:
            text = text.replace(char, escaped)
    return Markup(text)


def og_locale(lang: str) -> str:
    base = lang.split("-")[0].lower()
    return OG_LOCALES.get(base, f"{base}_{base.upper()}")


def image_url(config: Config, image: str) -> str:
    """An article's `image` as an absolute URL (it may already be one)."""
    if "://" in image:
        return image
    return absolute(config, image)


def _publisher(config: Config) -> dict[str, Any]:
    return {"@type": "NewsMediaOrganization", "name": config.publisher or config.title,
            "url": config.base_url}  # fmt: skip


def _crumbs(config: Config, trail: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": i, "name": name, "item": absolute(config, path)}
            for i, (name, path) in enumerate(trail, 1)
        ],
    }


def _thing(config: Config, entity: Entity) -> dict[str, Any]:
    return _thing_at(config.base_url, entity.type, entity.name, entity.slug)


@lru_cache(maxsize=16384)  # an entity is named on many pages; shared, so never changed
def _thing_at(base_url: str, kind: str, name: str, slug: str) -> dict[str, Any]:
    return {
        "@type": SCHEMA_TYPES.get(kind, "Thing"),
        "name": name,
        "url": absolute_at(base_url, f"/entity/{slug}/"),
    }


def article_ld(
    config: Config, article: Article, section_path: str, entities: list[Entity]
) -> dict[str, Any]:
    """A NewsArticle with its breadcrumb trail, as one `@graph`."""
    url = absolute(config, article.path)
    by_name = {e.name: e for e in entities}
    # `about`: what the headline names; `mentions`: every other entity the text names.
    about = [_thing(config, by_name[r.name]) for r in article.entities
             if r.name in by_name and r.in_title]  # fmt: skip
    mentions = [_thing(config, by_name[r.name]) for r in article.entities
                if r.name in by_name and not r.in_title]  # fmt: skip
    news: dict[str, Any] = {
        "@type": "NewsArticle",
        "@id": url + "#article",
        "mainEntityOfPage": url,
        "url": url,
        "headline": article.title,
        "inLanguage": article.lang,
        "articleSection": article.section,
        "publisher": _publisher(config),
    }
    if article.summary:
        news["description"] = article.summary
    if article.date:
        news["datePublished"] = article.date.isoformat()
        news["dateModified"] = modified(article).isoformat()  # type: ignore[union-attr]
    if article.author:
        news["author"] = [{"@type": "Person", "name": article.author}]
    else:
        news["author"] = [_publisher(config)]
    if article.image:
        news["image"] = [image_url(config, article.image)]
    if article.tags:
        news["keywords"] = list(article.tags)
    if article.words:
        news["wordCount"] = article.words
    if about:
        news["about"] = about
    if mentions:
        news["mentions"] = mentions
    trail = [(HOME_NAME, "/"), (article.section, section_path), (article.title, article.path)]
    return {"@context": SCHEMA, "@graph": [news, _crumbs(config, trail)]}


def listing_ld(
    config: Config, name: str, path: str, items: tuple[Article, ...], trail: list[tuple[str, str]]
) -> dict[str, Any]:
    """A CollectionPage listing its articles, plus its breadcrumb trail (when it has depth)."""
    page = {
        "@type": "CollectionPage",
        "@id": absolute(config, path),
        "url": absolute(config, path),
        "name": name,
        "inLanguage": config.lang,
        "isPartOf": {"@type": "WebSite", "name": config.title, "url": config.base_url},
        "mainEntity": {
            "@type": "ItemList",
            "itemListElement": [
                {"@type": "ListItem", "position": i, "url": absolute(config, a.path)}
                for i, a in enumerate(items, 1)
            ],
        },
    }
    graph: list[dict[str, Any]] = [page]
    if len(trail) > 1:
        graph.append(_crumbs(config, trail))
    return {"@context": SCHEMA, "@graph": graph}


def website_ld(config: Config) -> dict[str, Any]:
    """The site itself, with the search page as its SearchAction."""
    return {
        "@context": SCHEMA,
        "@type": "WebSite",
        "name": config.title,
        "url": config.base_url,
        "inLanguage": config.lang,
        "publisher": _publisher(config),
        "potentialAction": {
            "@type": "SearchAction",
            "target": absolute(config, "/search/") + "?q={search_term_string}",
            "query-input": "required name=search_term_string",
        },
    }


def _get(ctx: Mapping[str, Any], key: str) -> Any:
    value = ctx.get(key)
    return None if isinstance(value, jinja2.Undefined) else value


@lru_cache(maxsize=16384)
def page_feeds(path: str, title: str, config: Config) -> tuple[dict[str, str], ...]:
    """The site's feeds and those of the listing at `path`: one tuple for every page that
    links them, so that head-meta.html renders their tags once (a `fragment`)."""
    return feed_links("/", config.title, config) + feed_links(path, title, config)


def page_meta(config: Config, ctx: Mapping[str, Any]) -> dict[str, Any]:
    """Everything head-meta.html writes, for the page whose template context is `ctx`."""
    site_feeds = feed_links("/", config.title, config)
    meta: dict[str, Any] = {"canonical": None, "robots": None, "feeds": site_feeds,
                            "og": [], "twitter": [], "json_ld": None}  # fmt: skip
    article: Article | None = _get(ctx, "article")
    pager = _get(ctx, "pager")
    title = _get(ctx, "title") or config.title
    common_og = [("og:site_name", config.title), ("og:locale", og_locale(config.lang))]
    if article is not None:
        section_path = _get(ctx, "section_path") or "/"
        url = absolute(config, article.path)
        meta["canonical"] = url
        meta["feeds"] = page_feeds(section_path, f"{article.section} | {config.title}", config)
        og = [("og:type", "article"), ("og:title", article.title), ("og:url", url)]
        og += common_og
        if article.lang != config.lang:
            og = [(k, og_locale(article.lang) if k == "og:locale" else v) for k, v in og]
        if article.summary:
            og.append(("og:description", article.summary))
        if article.image:
            og.append(("og:image", image_url(config, article.image)))
            og.append(("og:image:alt", article.title))
        if article.date:
            og.append(("article:published_time", article.date.isoformat()))
            og.append(("article:modified_time", modified(article).isoformat()))  # type: ignore[union-attr]
        if article.author:
            og.append(("article:author", article.author))
        og.append(("article:section", article.section))
        og += [("article:tag", t) for t in article.tags]
        meta["og"] = og
        tw = [("twitter:card", "summary_large_image" if article.image else "summary"),
              ("twitter:title", article.title)]  # fmt: skip
        if article.summary:
            tw.append(("twitter:description", article.summary))
        if article.image:
            tw.append(("twitter:image", image_url(config, article.image)))
        meta["twitter"] = tw
        entities = list(_get(ctx, "entities") or ())
        meta["json_ld"] = json_ld(article_ld(config, article, section_path, entities))
        return meta

    path = _get(ctx, "page_path")
    if path is None and pager is not None:
        path = pager.path
    if path is None and _get(ctx, "groups") is not None:
        path = "/entity/"
    if path is None:  # the 404 page: no canonical URL (hosts serve it with status 404, which
        return meta  # keeps it out of search engines; a robots noindex would only cost SEO)
    url = absolute(config, path)
    meta["canonical"] = url
    if _get(ctx, "noindex"):
        meta["robots"] = "noindex, follow"
    base = _PAGE_N.sub("", path)
    entity: Entity | None = _get(ctx, "entity")
    description = config.description
    trail = [(HOME_NAME, "/")]
    if entity is not None:
        description = f"آخر الأخبار عن {entity.name}"
        meta["feeds"] = page_feeds(base, f"{entity.name} | {config.title}", config)
        trail += [(ENTITIES_NAME, "/entity/"), (entity.name, base)]
    elif base == "/":
        title = config.title
    elif pager is not None:
        sections = dict((p, n) for n, p in (_get(ctx, "sections") or ()))
        if base in sections:
            meta["feeds"] = page_feeds(base, f"{title} | {config.title}", config)
            description = f"آخر أخبار {title}"
        trail.append((title, base))
    else:
        trail.append((title, base))
    meta["og"] = [("og:type", "website"), ("og:title", title), ("og:url", url),
                  ("og:description", description), *common_og]  # fmt: skip
    meta["twitter"] = [("twitter:card", "summary"), ("twitter:title", title),
                       ("twitter:description", description)]  # fmt: skip
    if base == "/" and (pager is None or pager.number == 1):
        graph = [website_ld(config)]
        if pager is not None:
            graph.append(listing_ld(config, title, path, pager.items, trail))
        meta["json_ld"] = json_ld(graph if len(graph) > 1 else graph[0])
    elif pager is not None:
        meta["json_ld"] = json_ld(listing_ld(config, title, path, pager.items, trail))
    elif len(trail) > 1:
        meta["json_ld"] = json_ld({"@context": SCHEMA, **_crumbs(config, trail)})
    return meta


def install(env: jinja2.Environment, config: Config) -> None:
    """Make `head_meta()` available to templates."""

    @jinja2.pass_context
    def head_meta(ctx: jinja2.runtime.Context) -> dict[str, Any]:
        return page_meta(config, ctx)

    env.globals["head_meta"] = head_meta
