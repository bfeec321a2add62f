"""Related articles through an inverted index (entity -> articles), never all pairs.

score(a, b) = sum over shared entities e of idf(e) * weight(e in a) * weight(e in b),
times a decay on the time between the two stories. Ties go to the newer article, then the
source path, so the result never depends on input order.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import defaultdict

from .model import Article, EntityRef, Related

MAX_SHARE = 0.2  # entities in more than this share of articles say little: skip them
MIN_ARTICLES_FOR_CAP = 50  # small sites keep every entity
HALF_LIFE_DAYS = 60.0


def _weight(ref: EntityRef) -> float:
    return (
        1.0 + math.log1p(ref.count) + (1.0 if ref.in_title else 0.0) + (0.5 if ref.in_lead else 0.0)
    )


_HALF_LIFE_SECONDS = HALF_LIFE_DAYS * 86400


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


NEIGHBOURS = 20  # per shared entity, only this many articles on each side in time are scored
TOP_ENTITIES = 8  # an article is related through its most telling entities only


def relate(articles: tuple[Article, ...], count: int = 5) -> dict[str, tuple[Related, ...]]:
    """Up to `count` related articles for each article, keyed by its source path.

    Work is bounded by postings, never all pairs: for each entity of an article only the
    `NEIGHBOURS` nearest articles in time on each side of its posting list are visited (the
    time decay means farther ones rarely win), and entities in more than `MAX_SHARE` of the
    site are skipped. Newer follow-ups count as much as older background.
    """
    order = sorted(range(len(articles)), key=lambda i: _sort_key(articles[i]))
    postings, weights, idf = _index(articles, order)
    by_section: dict[str, list[Article]] = defaultdict(list)
    for i in order:
        by_section[articles[i].section].append(articles[i])
    # Seconds since the epoch by time rank, computed once: the decay is evaluated for every
    # scored pair, and datetime arithmetic there cost more than the scoring itself.
    stamps = [_stamp(articles[i]) for i in order]
    result: dict[str, tuple[Related, ...]] = {}
    for rank, i in enumerate(order):
        art = articles[i]
        scores, shared = _scores(art, rank, postings, weights, idf)
        mine = stamps[rank]
        ranked = heapq.nsmallest(
            count,
            scores.items(),
            key=lambda kv: (-kv[1] * _decay_seconds(mine, stamps[kv[0]]), kv[0]),
        )
        links = [
            Related(articles[order[r]], tuple(name for _, name in sorted(shared[r])), round(s, 6))
            for r, s in ranked
        ]
        if len(links) < count:
            taken = {link.article.source for link in links}
            links += _same_section(art, by_section[art.section], taken, count - len(links))
        result[art.source] = tuple(links)
    return result


def _index(
    articles: tuple[Article, ...], order: list[int]
) -> tuple[dict[str, list[int]], dict[tuple[str, int], float], dict[str, float]]:
    """Posting lists of time ranks (newest first), per-(entity, rank) weights, and idf."""
    n = len(articles)
    postings: dict[str, list[int]] = defaultdict(list)
    weights: dict[tuple[str, int], float] = {}
    for rank, i in enumerate(order):
        for ref in articles[i].entities:
            postings[ref.name].append(rank)
            weights[ref.name, rank] = _weight(ref)
    cap = n * MAX_SHARE if n >= MIN_ARTICLES_FOR_CAP else n + 1
    idf = {name: math.log((n + 1) / len(p)) + 0.1 for name, p in postings.items() if len(p) <= cap}
    return postings, weights, idf


def _scores(
    art: Article,
    rank: int,
    postings: dict[str, list[int]],
    weights: dict[tuple[str, int], float],
    idf: dict[str, float],
) -> tuple[dict[int, float], dict[int, list[tuple[float, str]]]]:
    scores: dict[int, float] = defaultdict(float)
    shared: dict[int, list[tuple[float, str]]] = defaultdict(list)
    telling = [(weights[r.name, rank] * idf[r.name], r.name) for r in art.entities if r.name in idf]
    for w_a, name in heapq.nlargest(TOP_ENTITIES, telling):
        plist = postings[name]
        p = bisect.bisect_left(plist, rank)
        for other in plist[max(0, p - NEIGHBOURS) : p + NEIGHBOURS + 1]:
            if other != rank:
                part = w_a * weights[name, other]
                scores[other] += part
                shared[other].append((-part, name))
    return scores, shared


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
