"""Assemble the whole site from read articles: URLs, entities, related links, listings."""

from __future__ import annotations

import hashlib
import heapq
import logging
from collections import Counter, defaultdict
from itertools import chain

from .entities import Gazetteer
from .errors import ContentError
from .model import Article, Entity, Related, Site, evolve
from .pages import article_path, section_slug
from .relate import relate
from .urls import slugify

log = logging.getLogger("sahifa")


def newest_first(articles: list[Article]) -> list[Article]:
    return sorted(
        articles, key=lambda a: (-(a.date.timestamp() if a.date else float("-inf")), a.source)
    )


def assign_paths(
    articles: list[Article], ascii_only: bool, skipped: list[str] | None = None
) -> list[Article]:
    """Give each article its URL; two articles never share one.

    Two explicit front-matter slugs that collide are an error naming both files (with
    `skipped`, i.e. --keep-going, the second is reported there and left out). A slug made
    from a title that is already taken gets '-2', '-3', ... in source-path order.
    """
    taken: dict[str, str] = {}
    next_suffix: dict[str, int] = {}
    out: list[Article] = []
    for art in sorted(articles, key=lambda a: (not a.explicit_slug, a.source)):
        path = article_path(art, ascii_only)
        if path in taken:
            if art.explicit_slug:
                exc = ContentError(
                    art.source, f"slug {art.slug!r} is already used by {taken[path]}"
                )
                if skipped is None:
                    raise exc
                log.error("%s (skipped)", exc)
                skipped.append(str(exc))
                continue
            # Resume counting where the last collision on this path stopped: many articles
            # with one title would otherwise probe -2, -3, ... from the start each time.
            n = next_suffix.get(path, 2)
            while article_path(evolve(art, slug=f"{art.slug}-{n}"), ascii_only) in taken:
                n += 1
            next_suffix[path] = n + 1
            art = evolve(art, slug=f"{art.slug}-{n}")
            path = article_path(art, ascii_only)
        taken[path] = art.source
        out.append(evolve(art, path=path))
    return out


CoTop = tuple[tuple[str, int], ...]  # an entity's companions with their counts
CoMemo = dict[str, tuple[str, CoTop]]  # entity -> (digest of its articles' names, its top ten)


def co_entities(
    ordered: tuple[Article, ...], memo: CoMemo | None = None
) -> tuple[dict[str, CoTop], CoMemo]:
    """Each entity's ten most frequent companions (`_top_co_entities`), and the memo for
    the next build. An entity whose articles name the same entities as in `memo` (the last
    build's) keeps its ten without counting again: the key is a digest of those names, so
    an edit that leaves every article's entities alone recounts nothing (counting took
    ~0.5 s at 10,000 articles), and one that changes them recounts only their entities."""
    names_of = [[ref.name for ref in art.entities] for art in ordered]
    members: dict[str, list[int]] = defaultdict(list)  # entity -> its articles' indexes
    for i, names in enumerate(names_of):
        for name in names:
            members[name].append(i)
    spelt = [
        hashlib.sha1("\x1e".join(names).encode("utf-8", "surrogatepass")).digest()
        for names in names_of
    ]
    memo = memo or {}
    top: dict[str, CoTop] = {}
    fresh: CoMemo = {}
    for name, mine in members.items():
        key = hashlib.sha1(b"".join(map(spelt.__getitem__, mine))).hexdigest()
        before = memo.get(name)
        if before is not None and before[0] == key:
            top[name] = before[1]
        else:
            top[name] = _top_co_entities(name, _companions(mine, names_of, members))
        fresh[name] = (key, top[name])
    return top, fresh


def _companions(
    mine: list[int], names_of: list[list[str]], members: dict[str, list[int]]
) -> Counter[str]:
    """How many of the articles `mine` name each entity (an article names an entity once).

    One Counter over all their names, counted in C. For an entity in most of the articles
    (a synthetic site's كونيكو is in 99.8 % of 100,000) the articles without it are counted
    instead, and taken from each entity's own article count: a tenth of the work there."""
    if len(mine) * 2 <= len(names_of):
        return Counter(chain.from_iterable(map(names_of.__getitem__, mine)))
    inside = set(mine)
    outside = Counter(
        chain.from_iterable(names for i, names in enumerate(names_of) if i not in inside)
    )
    return Counter(
        {
            name: n - outside[name]
            for name, arts in members.items()
            if (n := len(arts)) > outside[name]
        }
    )


def link_site(
    ordered: tuple[Article, ...],
    gaz: Gazetteer,
    related_count: int,
    ascii_only: bool,
    related: dict[str, tuple[Related, ...]] | None = None,
    co: dict[str, CoTop] | None = None,
) -> Site:
    """Site-wide steps, recomputed every build from per-article data. `related` may come
    from `relate.relate_cached` and `co` from `co_entities` with a memo (the incremental
    build); otherwise they are computed here."""
    sections: dict[str, list[Article]] = defaultdict(list)
    by_entity: dict[str, list[Article]] = defaultdict(list)
    for art in ordered:
        sections[art.section].append(art)
        for ref in art.entities:
            by_entity[ref.name].append(art)
    entities: dict[str, Entity] = {}
    used_slugs: set[str] = set()
    types = {ref.name: ref.type for art in ordered for ref in art.entities}
    for name in sorted(by_entity):
        # Cached articles may name entities this gazetteer has not seen (front matter ones).
        ent = gaz.entities.get(name) or Entity(
            name, types[name], slugify(name) or slugify(name, True)
        )
        slug, n = ent.slug or "entity", 2
        while slug in used_slugs:
            slug, n = f"{ent.slug}-{n}", n + 1
        used_slugs.add(slug)
        entities[name] = evolve(ent, slug=slug)
    return Site(
        articles=ordered,
        entities=entities,
        related=relate(ordered, related_count) if related is None else related,
        sections={k: tuple(v) for k, v in sorted(sections.items())},
        entity_articles={k: tuple(v) for k, v in by_entity.items()},
        # By name, like `sections`: the menu on every page. In the order the sections were
        # first met (newest story first) a story in another section reordered the menu, and
        # so changed every page of the site.
        section_paths={k: f"/{section_slug(k, ascii_only)}/" for k in sorted(sections)},
        co_entities=co_entities(ordered)[0] if co is None else co,
    )


def _top_co_entities(name: str, counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    """The ten entities named most often beside `name` (ties by name), not itself."""
    del counts[name]
    if len(counts) > 10:
        # Only names counted at least as often as the tenth largest count can rank: find that
        # count with C comparisons of ints, then sort the few that reach it (a common entity
        # has thousands of neighbours: 3x faster than a key function called on each).
        floor = heapq.nlargest(10, counts.values())[-1]
        counts = Counter({n: c for n, c in counts.items() if c >= floor})
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10])
