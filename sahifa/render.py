"""Render the Site with Jinja into {output path: bytes}. Never reads content files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, fields, is_dataclass
from functools import cache
from operator import attrgetter
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from markupsafe import Markup

from . import frontpage, publish, search, seo
from .arabic import format_date, lang_direction
from .config import Config
from .errors import TemplateError
from .model import Article, EntityRef, Related, Site
from .pages import Pager, paginate
from .share import share_links
from .urls import encode_path

TOC_MIN_HEADINGS = 3


_as_markup = str.__new__  # a Markup made in C, without Markup.__new__'s Python checks
_HTML_SPECIAL = ("&", "<", ">", '"', "'")


def escape(value: Any) -> Markup:
    """markupsafe.escape, same result, faster for what a page mostly prints: text with none
    of & < > " ' in it (Arabic titles, names, dates) and Markup already safe (fragments, a
    body). Jinja calls it for every `{{ }}`; markupsafe's own makes each result through
    Markup.__new__ in Python, ~17 % of an article page's render."""
    kind = type(value)
    if kind is str:
        for char in _HTML_SPECIAL:
            if char in value:
                return markupsafe.escape(value)
        return _as_markup(Markup, value)
    if kind is Markup:
        return value
    return markupsafe.escape(value)


class _Template(jinja2.Template):
    """A template whose `{{ }}` use `escape` above: the compiled module imports Jinja's
    escape by name into its namespace, which this replaces as the template is made."""

    @classmethod
    def _from_namespace(cls, environment: Any, namespace: Any, globals: Any) -> Any:  # noqa: A002
        if "escape" in namespace:
            namespace["escape"] = escape
        return super()._from_namespace(environment, namespace, globals)


class _Environment(jinja2.Environment):
    """A template's globals as a plain dict rather than Jinja's ChainMap over the
    environment's: each render and each include copies them into a new context, and a
    ChainMap walks and merges its maps every time (~4 % of a page's render). A snapshot
    is enough: `make_env` sets every global before any template is loaded."""

    template_class = _Template

    def make_globals(self, d: Any = None) -> dict[str, Any]:  # type: ignore[override]
        return {**self.globals, **(d or {})}


def make_env(config: Config, bytecode_dir: Path | None = None) -> jinja2.Environment:
    """Templates from the site's own folder first, then the default theme. With
    `bytecode_dir` (in the build cache) compiled templates are kept between builds: every
    build is a new process, and compiling the theme's templates cost ~0.12 s in each
    process that renders (the workers too); loading them back costs ~0.01 s. Jinja keys each
    entry by the template's source, so an edited template is compiled again."""
    dirs = [d for d in (config.templates_dir, config.theme_dir) if d is not None]
    cache = None
    if bytecode_dir is not None:
        bytecode_dir.mkdir(parents=True, exist_ok=True)
        cache = jinja2.FileSystemBytecodeCache(str(bytecode_dir))
    env = _Environment(
        bytecode_cache=cache,
        loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Every include would stat its file on each page: the builder makes a new environment
        # whenever a template's bytes change (its theme digest), so checking is never needed.
        auto_reload=False,
        # A plain dict instead of a locked LRU: every include and fragment looks its template
        # up, and a theme has a few dozen templates.
        cache_size=-1,
    )
    base = config.base_path

    def url(path: str) -> str:
        """A root-relative link that works under a sub-path base URL ('/news/...')."""
        return base + path.lstrip("/")

    def abs_url(path: str) -> str:
        return config.base_url + encode_path(path.lstrip("/"))

    env.globals.update(url=url, abs_url=abs_url, config=config, custom_css=custom_css(config))
    # Called by share.html rather than passed in: derived from the page URL and title alone,
    # so it is only computed for the pages actually rendered and adds nothing to page keys.
    env.globals["share_links"] = share_links
    env.globals["standfirst"] = (
        frontpage.standfirst
    )  # from the article's text, known at render time
    env.globals["fragment"] = Fragments(env)
    seo.install(env, config)  # head_meta() for templates/head-meta.html
    plain = ("url", "abs_url", "share_links", "standfirst", "fragment")  # none takes a context
    env.context_class = _direct_calls(*(env.globals[name] for name in plain))
    env.filters["arabic_date"] = lambda d: format_date(d, config.months, config.digits) if d else ""
    env.filters["iso"] = lambda d: d.isoformat() if d else ""
    return env


# Built-in functions and methods (a theme's `name.split()`, `len`) cannot carry Jinja's
# pass_context mark. (The default theme's one such call, in share.html, moved to
# `ShareLink.named_by_label`.)
_BUILTIN_CALLS = (type(len), type("".split), type("".__len__))


def _direct_calls(*plain: Any) -> type[jinja2.runtime.Context]:
    """A template Context whose `call` skips Jinja's inspection for callables known to take
    no context: `plain` (this module's globals) and built-in methods. Jinja checks every
    call in a template for pass_context and friends (~2 us, four `hasattr`); an article
    page makes ~50 calls (`url()` 34 of them), ~20 % of its render. Anything else goes
    through Jinja's own `call`."""
    known = {id(fn): fn for fn in plain}

    class DirectContext(jinja2.runtime.Context):
        def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
            if type(__obj) not in _BUILTIN_CALLS and known.get(id(__obj)) is not __obj:
                return super().call(__obj, *args, **kwargs)
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
            try:
                return __obj(*args, **kwargs)
            except StopIteration:  # as Jinja's `call` does
                return __self.environment.undefined(
                    "value was undefined because a callable raised a StopIteration exception"
                )

    return DirectContext


# Values a fragment may be keyed on: immutable, so the same object renders the same HTML.
_FROZEN = (str, int, float, bool, type(None), tuple, Article)


class Fragments:
    """`fragment(name, **values)` in a template: the partial `name` rendered with only
    `values` and the globals, kept and reused while the same objects come again. A story's
    card is on its section's pages, its archive month and each of its entities' pages (about
    a dozen listings), the menu and the footer are on every page: rendered once each instead
    of ~130,000 times at 10,000 articles. Keyed by the values' identity (the entry holds them,
    so an id is never reused while it is kept); a value of a mutable type is never kept."""

    LIMIT = 50_000  # entries (~1 KB each); the memo starts again when full

    def __init__(self, env: jinja2.Environment) -> None:
        self.env = env
        self.memo: dict[tuple[Any, ...], tuple[tuple[Any, ...], Markup]] = {}

    def __call__(self, name: str, /, **values: Any) -> Markup:
        objects = tuple(values.values())
        for value in objects:  # a loop, not all(<generator>): ~20 cards a listing page
            if not isinstance(value, _FROZEN):
                return self._render(name, values)
        key = (name, *values, *map(id, objects))  # names are str, ids int: unambiguous
        entry = self.memo.get(key)
        if entry is not None:
            return entry[1]
        html = self._render(name, values)
        if len(self.memo) >= self.LIMIT:
            self.memo.clear()
        self.memo[key] = (objects, html)
        return html

    def _render(self, name: str, values: dict[str, Any]) -> Markup:
        return _as_markup(Markup, self.env.get_template(name).render(values))


def _render(env: jinja2.Environment, name: str, **context: Any) -> bytes:
    try:
        return env.get_template(name).render(**context).encode("utf-8")
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template not found: {exc.name}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"{_template_line(exc, name)}: {exc.message}") from None
    except Exception as exc:  # a runtime error inside a template: 1 // 0, str + int, ...
        raise TemplateError(f"{_template_line(exc, name)}: {type(exc).__name__}: {exc}") from None


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
    refs = [(site.entities[r.name], r) for r in article.entities if r.name in site.entities]
    return {
        "related": site.related.get(article.source, ()),
        "entities": [e for e, _ in sorted(refs, key=lambda er: (-er[1].count, er[0].name))],
        "section_path": site.section_paths[article.section],
    }


def own_context(article: Article, config: Config) -> dict[str, Any]:
    """What an article's page takes from the article alone (the rest of its context comes
    from the site: `article_around`). `Builder._edit_pages` renders an edited article with
    the surroundings its page had in the last build and this."""
    return {
        "article": article,
        "dir": lang_direction(article.lang),
        "show_toc": len(article.headings) >= TOC_MIN_HEADINGS,
        "page_url": config.base_url + encode_path(article.path.lstrip("/")),
        "reading": frontpage.reading_label(frontpage.reading_minutes(article), config.digits),
        "archive_path": f"/archive/{article.date.year}/{article.date.month:02d}/"
        if article.date
        else None,
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


@dataclass(frozen=True)
class PageJob:
    """One page to render: its output file, template and context (plain data, no Site)."""

    file: str
    template: str
    context: dict[str, Any]


def article_around(
    site: Site, theme: frontpage.ThemeData, article: Article, config: Config
) -> dict[str, Any]:
    """What an article's page takes from the rest of the site: the menu, its related links,
    its entities' pages, its section, neighbours and author page."""
    common = {"sections": tuple(site.section_paths.items())}
    return {**common, **article_context(site, article, config), **theme.article_context(article)}


def article_page(article: Article, around: dict[str, Any], config: Config) -> PageJob:
    """The page of one article from its surroundings (`article_around`)."""
    return PageJob(
        output_file(article.path), "article.html", {**around, **own_context(article, config)}
    )


def article_job(
    site: Site, theme: frontpage.ThemeData, article: Article, config: Config
) -> PageJob:
    """The page of one article."""
    return article_page(article, article_around(site, theme, article, config), config)


@dataclass(frozen=True)
class ArticlePage:
    """An article's page before its context is made: the build makes it where the page is
    rendered (`site_article_job`), in a worker, instead of every one in the main process
    (10,000 contexts took ~0.5 s there, with a core idle)."""

    file: str
    article: Article
    template: str = "article.html"


def menu(site: Site) -> dict[str, Any]:
    """What every page takes from the site: the sections' menu. Made once a build and shared
    by every page's context: page keys memoise it by identity."""
    return {"sections": tuple(site.section_paths.items())}


def site_article_job(
    site: Site,
    theme: frontpage.ThemeData,
    article: Article,
    config: Config,
    common: dict[str, Any],
) -> PageJob:
    """The page of one article as `page_jobs` makes it, with the shared menu `common`."""
    job = article_job(site, theme, article, config)
    return PageJob(job.file, job.template, {**job.context, **common})


def page_jobs(
    site: Site, config: Config, theme: frontpage.ThemeData | None = None
) -> Iterator[PageJob]:
    """Every page of the site, in a stable order. Pure: no rendering, no files.

    Contexts hold plain values only (never the whole Site) so that `context_key` sees every
    input of a page, and an incremental build can skip the pages whose key did not change.
    `theme` is `frontpage.ThemeData.of(site, config)`, made here when not given.
    """
    common = menu(site)
    theme = theme or frontpage.ThemeData.of(site, config)
    for article in site.articles:
        yield site_article_job(site, theme, article, config, common)
    yield from listing_jobs(site, config, theme, common)


def listing_jobs(
    site: Site, config: Config, theme: frontpage.ThemeData, common: dict[str, Any]
) -> Iterator[PageJob]:
    """Every page of the site but the articles' own (`page_jobs`)."""
    yield from _listing(
        common, "home.html", site.articles, "/", config, first={"front": theme.front},
        title=config.title, front=None,
    )  # fmt: skip
    for name, items in site.sections.items():
        yield from _listing(
            common, "section.html", items, site.section_paths[name], config, title=name
        )
    for name, entity in site.entities.items():
        co = tuple(
            (n, site.entities[n].slug, c)
            for n, c in site.co_entities.get(name, ())
            if n in site.entities
        )
        yield from _listing(
            common, "entity.html", site.entity_articles[name], f"/entity/{entity.slug}/", config,
            first={"co_entities": co}, title=name, entity=entity, co_entities=(),
        )  # fmt: skip
    groups = entity_groups(site)
    yield PageJob(
        "entity/index.html",
        "entities.html",
        {**common, "title": "الأعلام والأماكن", "groups": groups},
    )
    yield PageJob("404.html", "404.html", {**common, "title": "الصفحة غير موجودة"})
    bundles = search.bundle_paths(site, config)
    yield PageJob("search/index.html", "search.html",
                  {**common, "title": "البحث", "page_path": "/search/", "bundles": bundles})  # fmt: skip
    yield from _theme_pages(common, theme, config)


def _theme_pages(
    common: dict[str, Any], theme: frontpage.ThemeData, config: Config
) -> Iterator[PageJob]:
    """Archives by year and month, author pages, and the offline files (sahifa/frontpage.py)."""
    years = theme.years
    index = {**common, "title": "الأرشيف", "years": years, "page_path": "/archive/"}
    yield PageJob("archive/index.html", "archive-index.html", index)
    for year in years:
        yield from _listing(common, "archive.html", theme.listed[year.path], year.path, config,
                            title=f"أرشيف {year.title}", year=year, month=None)  # fmt: skip
        for month in year.months:
            yield from _listing(common, "archive.html", theme.listed[month.path], month.path, config,
                                title=f"أرشيف {month.title}", year=year, month=month)  # fmt: skip
    for author in theme.authors.values():
        yield from _listing(common, "author.html", theme.listed[author.path], author.path, config,
                            title=author.name, author=author)  # fmt: skip
    if config.offline:
        version = hashlib.sha1(b"".join(data for _, data in static_files(config))).hexdigest()
        yield PageJob("sw.js", "sw.js", {"version": version[:12]})
        yield PageJob("manifest.webmanifest", "manifest.webmanifest", {})


def custom_css(config: Config) -> tuple[str, ...]:
    """Site stylesheets linked after the theme's: the site's static/custom.css if it has one,
    then the `extra_css` setting."""
    own = config.templates_dir
    found = ("/static/custom.css",) if own and (own / "static" / "custom.css").is_file() else ()
    return found + tuple(c for c in config.extra_css if c not in found)


def _listing(
    common: dict[str, Any],
    template: str,
    items: tuple[Article, ...],
    base: str,
    config: Config,
    first: dict[str, Any] | None = None,
    **extra: Any,
) -> Iterator[PageJob]:
    """A listing's pages; `first` goes to page 1 only, over `extra`. The entities seen with
    an entity, with their counts, change with every story that names it: on every page of
    a 200-page listing, one new story re-rendered them all."""
    for pager in paginate(items, base, config.per_page):
        own = first if first and pager.number == 1 else {}
        yield PageJob(output_file(pager.path), template, {**common, "pager": pager, **extra, **own})


def render_job(env: jinja2.Environment, job: PageJob) -> bytes:
    return _render(env, job.template, **job.context)


def site_groups(site: Site, config: Config) -> Iterator[publish.FileGroup]:
    """Feeds, sitemaps, robots.txt (sahifa.publish), the search script and index (sahifa.search),
    in groups an incremental build can keep when their key did not change."""
    yield from publish.publish_groups(site, config)
    yield from search.search_groups(site, config)


# What a page shows of *another* article (a card in a listing, a related link, prev/next):
# everything but its body. Editing an article's body then re-renders its own page (and the
# listings only if its summary, word count or other card fields changed). A template that
# shows another article's body_html, text or headings is not supported.
CARD_SKIPS = frozenset({"body_html", "text", "headings", "digest"})
CARD_FIELDS = tuple(f.name for f in fields(Article) if f.name not in CARD_SKIPS)
# Card fields read in Python rather than in a template: the article's identity, and the
# path seo.listing_ld puts in a listing's JSON-LD.
PYTHON_CARD_FIELDS = ("source", "path")
_REF = attrgetter(*(f.name for f in fields(EntityRef)))


# A related link's score orders the links (the order is in every key) but no built-in
# template prints it: a new story changes the scores of hundreds of links to stories that
# share its entities, and those pages came out the same.
SHOWABLE = (*CARD_FIELDS, "score")


class KeyMemo(dict):  # type: ignore[type-arg]
    """`context_key`'s memo for one build (object id -> (object, key)), and which card
    fields (and whether a related link's score) count: those the templates can show
    (`shown_fields`), all by default."""

    def __init__(self, shown: tuple[str, ...] = SHOWABLE) -> None:
        super().__init__()
        card_fields = tuple(f for f in shown if f in CARD_FIELDS)
        self.card = attrgetter(*card_fields)
        self.entities = card_fields.index("entities") if "entities" in card_fields else -1
        self.score = "score" in shown


_ALL_FIELDS = KeyMemo()


def shown_fields(env: jinja2.Environment) -> tuple[str, ...]:
    """The card fields a page can show: those named anywhere in the templates (as `x.field`,
    `x["field"]` or any other string), and PYTHON_CARD_FIELDS; and "score" if a template
    names a related link's score. A field no template names (the word count, tags,
    entities) then leaves the listings that show the card alone when it changes: editing a
    story's body re-renders its own page only. All of SHOWABLE when a template cannot be
    read (the render reports why)."""
    named: set[str] = set(PYTHON_CARD_FIELDS)
    try:
        for name in env.list_templates():
            if name.startswith("static/"):
                continue
            tree = env.parse(env.loader.get_source(env, name)[0])  # type: ignore[union-attr]
            named.update(node.attr for node in tree.find_all(jinja2.nodes.Getattr))
            named.update(
                node.value
                for node in tree.find_all(jinja2.nodes.Const)
                if isinstance(node.value, str)
            )
    except (jinja2.TemplateError, OSError, UnicodeDecodeError):
        return SHOWABLE
    return tuple(f for f in SHOWABLE if f in named)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _key_parts(value: Any, out: list[str], memo: dict[int, tuple[Any, str]]) -> None:
    """Flatten a context into strings. An Article inside a container stands for its card
    (CARD_FIELDS); the page's own article (`context_key`) for all of its source.
    Containers and dataclasses are memoised by identity: the same related list or section
    menu appears on many pages."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        out.append(repr(value))
        return
    if isinstance(value, dict):
        out.append(f"D{len(value)}")
        for k in sorted(value):
            out.append(f"K{k}")
            _key_parts(value[k], out, memo)
        return
    # Made for one page (a pager, an article's entity list, its related links):
    # walked in place, never worth a memo entry and a digest of their own.
    kind = type(value)
    if kind is Pager:
        out.append(
            f"P{value.number}|{value.total}|{value.path}|{value.prev_path}|{value.next_path}"
        )
        _key_parts(value.items, out, memo)
        return
    if kind is list:
        out.append(f"L{len(value)}")
        for item in value:
            _key_parts(item, out, memo)
        return
    if kind is Related:
        _key_parts(value.article, out, memo)
        scored = memo.score if isinstance(memo, KeyMemo) else True
        out.append(f"R{value.shared}|{value.score!r}" if scored else f"R{value.shared}")
        return
    hit = memo.get(id(value))
    if hit is None or hit[0] is not value:
        # The object itself is kept in the memo so its id cannot be reused during the build.
        hit = memo[id(value)] = (value, _object_key(value, memo))
    out.append(hit[1])


def _object_key(value: Any, memo: dict[int, tuple[Any, str]]) -> str:
    if isinstance(value, Article):
        fields_of = memo if isinstance(memo, KeyMemo) else _ALL_FIELDS
        card = list(fields_of.card(value))
        if fields_of.entities >= 0:  # C, not a dataclass repr each
            card[fields_of.entities] = tuple(map(_REF, value.entities))
        return hashlib.sha1(repr(card).encode("utf-8", "surrogatepass")).hexdigest()
    inner = []
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        if all(type(item) in _SCALARS for item in value):
            return f"S{value!r}"  # names, (name, slug, count) rows: one repr, no walk
        inner.append(f"L{len(value)}")
        for item in value:
            _key_parts(item, inner, memo)
    elif is_dataclass(value):
        inner.append(type(value).__name__)
        for name in _field_names(type(value)):
            _key_parts(getattr(value, name), inner, memo)
    else:
        inner.append(repr(value))
    return hashlib.sha1("\x1f".join(inner).encode("utf-8", "surrogatepass")).hexdigest()


def _article_digest(article: Article) -> str:
    """The article's source bytes stand for its body, text and headings (set by the reader;
    hashed here only for articles made without a reader, as in tests)."""
    if article.digest:
        return article.digest
    body = repr((article.body_html, article.text, article.headings))
    return hashlib.sha1(body.encode("utf-8", "surrogatepass")).hexdigest()


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def context_key(job: PageJob, memo: dict[int, tuple[Any, str]] | None = None) -> str:
    """A digest of everything a page is rendered from (its template is keyed separately).
    Pass the same `memo` for all pages of one build (and keep their objects alive); a
    KeyMemo also says which card fields count (all of them otherwise)."""
    parts: list[str] = [job.template]
    memo = KeyMemo() if memo is None else memo
    for name in sorted(job.context):
        value = job.context[name]
        parts.append(f"K{name}")
        if isinstance(value, Article):  # the page's own article: all of it
            parts.append(f"A{_article_digest(value)}")
        _key_parts(value, parts, memo)
    return hashlib.sha1("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def page_key(theme_id: str, context: str) -> str:
    """A page's key: its `context_key` with the digest of the templates and config."""
    return hashlib.sha1((theme_id + context).encode()).hexdigest()


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


__all__ = [
    "KeyMemo",
    "shown_fields",
    "SHOWABLE",
    "Pager",
    "PageJob",
    "page_jobs",
    "listing_jobs",
    "menu",
    "site_article_job",
    "ArticlePage",
    "static_files",
    "output_file",
    "make_env",
]
