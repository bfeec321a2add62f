"""Related articles through an inverted index (entity -> articles), never all pairs.

score(a, b) = sum over shared entities e of idf(e) * weight(e in a) * weight(e in b),
times a decay on the time between the two stories. Ties go to the newer article, then the
source path, so the result never depends on input order.

Incremental: an article's scored links depend only on its own entities and date and on the
posting lists of its entities. `relate_cached` keys each article by exactly that and reuses
the links of articles whose key did not change, so an edit that leaves an article's entities
alone re-scores nothing, and a new article re-scores only the articles sharing its entities.
That is why idf depends on an entity's own article count and not on the size of the site.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import math
from array import array
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

from .model import Article, EntityRef, Related

MAX_SHARE = 0.2  # entities in more than this share of articles say little: skip them
MIN_ARTICLES_FOR_CAP = 50  # small sites keep every entity
HALF_LIFE_DAYS = 60.0
NEIGHBOURS = 20  # per shared entity, only this many articles on each side in time are scored
TOP_ENTITIES = 8  # an article is related through its most telling entities only

_HALF_LIFE_SECONDS = HALF_LIFE_DAYS * 86400

# source -> (key of its inputs, its scored links as (other source, score, shared entities))
Scored = tuple[tuple[str, float, tuple[str, ...]], ...]
RelateMemo = dict[str, tuple[str, Scored]]


def _weight(ref: EntityRef) -> float:
    return (
        1.0 + math.log1p(ref.count) + (1.0 if ref.in_title else 0.0) + (0.5 if ref.in_lead else 0.0)
    )


def idf(articles_with_entity: int) -> float:
    """Rarity: a name in 2 articles says far more than one in 2,000 (1.44 for 1, 0.13 for
    2,000). It depends on the entity's own count only, not on the size of the site, so adding
    an article changes the weight of its own entities and of no others."""
    return 1.0 / math.log1p(articles_with_entity)


def _stamp(article: Article) -> float | None:
    return article.date.timestamp() if article.date else None


def _decay_seconds(a: float | None, b: float | None) -> float:
    """1 for stories at the same moment, falling towards 0.5 with a half-life of 60 days."""
    if a is None or b is None:
        return 1.0
    return 0.5 + 0.5 * 0.5 ** (abs(a - b) / _HALF_LIFE_SECONDS)


def _sort_key(article: Article) -> tuple[float, str]:
    ts = article.date.timestamp() if article.date else float("-inf")
    return (-ts, article.source)


def relate(articles: tuple[Article, ...], count: int = 5) -> dict[str, tuple[Related, ...]]:
    """Up to `count` related articles for each article, keyed by its source path."""
    return relate_cached(articles, count, {})[0]


@dataclass
class _Index:
    order: list[int]  # article indexes by time rank (newest first)
    stamps: list[float | None]  # seconds since the epoch, by time rank
    postings: dict[str, list[int]]  # entity -> time ranks
    weights: list[list[float]]  # by time rank: the weight of each of its article's entities
    posted: dict[str, list[float]]  # entity -> the weights of its postings, in their order
    idf: dict[str, float]  # entities used for relating (not too common)
    signatures: dict[str, str]  # entity -> digest of its posting list


Mapper = Callable[[Callable[[Any], Any], list[Any]], list[Any]]  # like list(map(fn, items))


def relate_cached(
    articles: tuple[Article, ...],
    count: int,
    memo: RelateMemo,
    mapper: Mapper | None = None,
) -> tuple[dict[str, tuple[Related, ...]], RelateMemo]:
    """`relate`, reusing the links in `memo` (from the previous build) of every article whose
    inputs did not change. Returns the links and the memo for the next build. `mapper` may
    score the other articles across processes (the builder's pool); results are the same.

    Work is bounded by postings, never all pairs: for each entity of an article only the
    `NEIGHBOURS` nearest articles in time on each side of its posting list are visited (the
    time decay means farther ones rarely win), and entities in more than `MAX_SHARE` of the
    site are skipped. Newer follow-ups count as much as older background.
    """
    index = _index(articles)
    by_source = {a.source: a for a in articles}
    by_section: dict[str, list[Article]] = defaultdict(list)
    for i in index.order:
        by_section[articles[i].section].append(articles[i])
    fresh: RelateMemo = {}
    todo: list[tuple[int, str]] = []  # (time rank, key) of the articles to score again
    for rank, i in enumerate(index.order):
        art = articles[i]
        key = _article_key(art, rank, index, count)
        before = memo.get(art.source)
        if before is not None and before[0] == key:
            fresh[art.source] = before
        else:
            todo.append((rank, key))

    def score(item: tuple[int, str]) -> Scored:
        return _scored(articles[index.order[item[0]]], item[0], index, articles, count)

    scored_now = (mapper or (lambda fn, items: list(map(fn, items))))(score, todo)
    for (rank, key), scored in zip(todo, scored_now, strict=True):
        fresh[articles[index.order[rank]].source] = (key, scored)
    result: dict[str, tuple[Related, ...]] = {}
    for i in index.order:
        art = articles[i]
        scored = fresh[art.source][1]
        links = [Related(by_source[src], shared, score) for src, score, shared in scored]
        if len(links) < count:
            taken = {link.article.source for link in links}
            links += _same_section(art, by_section[art.section], taken, count - len(links))
        result[art.source] = tuple(links)
    return result, fresh


def _article_key(art: Article, rank: int, index: _Index, count: int) -> str:
    """Everything `_scored` reads for this article: its date and entities and the posting
    lists (members, dates, weights, rarity) of those entities. Built with C-level joins and
    the weights' bytes, not a formatted string per entity (250,000 at 10,000 articles)."""
    names = [ref.name for ref in art.entities]
    key = hashlib.sha1(f"{count}\x1f{_stamp(art)!r}\x1f".encode())
    key.update("\x1e".join(names).encode("utf-8", "surrogatepass"))
    key.update(array("d", index.weights[rank]).tobytes())
    key.update("\x1e".join(map(index.signatures.get, names, repeat("-"))).encode())
    return key.hexdigest()


def _index(articles: tuple[Article, ...]) -> _Index:
    """Posting lists of time ranks (newest first), each article's entity weights, idf, and a
    signature of each posting list for the incremental key. An article names each entity
    once (`entities.extract` counts mentions by name)."""
    n = len(articles)
    order = sorted(range(n), key=lambda i: _sort_key(articles[i]))
    postings: dict[str, list[int]] = defaultdict(list)
    posted: dict[str, list[float]] = defaultdict(list)
    weights: list[list[float]] = []
    for rank, i in enumerate(order):
        refs = articles[i].entities
        weights.append(mine := list(map(_weight, refs)))
        for ref, weight in zip(refs, mine, strict=True):
            postings[ref.name].append(rank)
            posted[ref.name].append(weight)
    cap = n * MAX_SHARE if n >= MIN_ARTICLES_FOR_CAP else n + 1
    idfs = {name: idf(len(p)) for name, p in postings.items() if len(p) <= cap}
    stamps = [_stamp(articles[i]) for i in order]
    # Each member's (source, date) spelt once per article, and each posting list's weights
    # hashed as the bytes of a C array: no formatted string per (entity, article).
    members = [f"{articles[i].source}\x1e{stamps[r]!r}" for r, i in enumerate(order)]
    signatures = {}
    for name, plist in postings.items():
        if name not in idfs:
            signatures[name] = "common"  # skipped: its members do not matter
            continue
        sig = hashlib.sha1(
            "\x1d".join(map(members.__getitem__, plist)).encode("utf-8", "surrogatepass")
        )
        sig.update(array("d", posted[name]).tobytes())
        signatures[name] = sig.hexdigest()
    return _Index(order, stamps, postings, weights, posted, idfs, signatures)


def _scored(
    art: Article, rank: int, index: _Index, articles: tuple[Article, ...], count: int
) -> Scored:
    """The best `count` scored links of one article as (other source, score, shared)."""
    scores: dict[int, float] = {}
    get = scores.get
    windows: list[tuple[float, str, list[int], list[float]]] = []  # (w_a, entity, ranks, weights)
    telling = [
        (weight * index.idf[r.name], r.name)
        for r, weight in zip(art.entities, index.weights[rank], strict=True)
        if r.name in index.idf
    ]
    for w_a, name in heapq.nlargest(TOP_ENTITIES, telling):
        plist = index.postings[name]
        p = bisect.bisect_left(plist, rank)
        lo, hi = max(0, p - NEIGHBOURS), p + NEIGHBOURS + 1
        # The weights come from a list beside the posting list: no (entity, rank) tuple made
        # and hashed per visit (~330 visits an article once the windows are full).
        ranks, weights = plist[lo:hi], index.posted[name][lo:hi]
        windows.append((w_a, name, ranks, weights))
        for other, weight in zip(ranks, weights, strict=True):
            scores[other] = get(other, 0.0) + w_a * weight
    scores.pop(rank, None)
    ranked = _best(scores, count, index.stamps[rank], index.stamps)
    return tuple(
        (articles[index.order[r]].source, round(s, 6), _shared(r, windows)) for r, s in ranked
    )


def _best(
    scores: dict[int, float], count: int, mine: float | None, stamps: list[float | None]
) -> list[tuple[int, float]]:
    """The `count` best (rank, score) by decayed score, ties to the lower rank (the newer).

    The decay only ever lowers a score (it is at most 1), so once `count` candidates have a
    decayed score above the next raw score, no candidate from there on can win: at 100,000
    articles ~10 of an article's ~200 candidates get their decay computed, not all of them."""
    keyed: list[tuple[float, int, float]] = []  # (-decayed score, rank, score)
    best: list[float] = []  # the `count` best decayed scores so far (a min-heap)
    for other, s in sorted(scores.items(), key=itemgetter(1), reverse=True):
        if len(best) == count and s < best[0]:
            break
        decayed = s * _decay_seconds(mine, stamps[other])
        keyed.append((-decayed, other, s))
        if len(best) < count:
            heapq.heappush(best, decayed)
        elif decayed > best[0]:
            heapq.heapreplace(best, decayed)
    keyed.sort()
    return [(other, s) for _, other, s in keyed[:count]]


def _shared(
    other: int, windows: list[tuple[float, str, list[int], list[float]]]
) -> tuple[str, ...]:
    """The entities through which `other` was scored, the heaviest part first."""
    parts = sorted(
        (-(w_a * weights[ranks.index(other)]), name)
        for w_a, name, ranks, weights in windows
        if other in ranks
    )
    return tuple(name for _, name in parts)


def _same_section(
    art: Article, section: list[Article], taken: set[str], count: int
) -> list[Related]:
    """The fallback: newest in the same section (the list is already newest first)."""
    out: list[Related] = []
    for other in section:
        if len(out) == count:
            break
        if other.source != art.source and other.source not in taken:
            out.append(Related(other))
    return out
