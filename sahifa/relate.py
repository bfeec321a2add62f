"""Related articles through an inverted index (entity -> articles), never all pairs.

score(a, b) = sum over shared entities e of idf(e) * weight(e in a) * weight(e in b),
times a decay on the time between the two stories. Ties go to the newer article, then the
source path, so the result never depends on input order.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime

from .model import Article, EntityRef, Related

MAX_SHARE = 0.2  # entities in more than this share of articles say little: skip them
MIN_ARTICLES_FOR_CAP = 50  # small sites keep every entity
HALF_LIFE_DAYS = 60.0


def _weight(ref: EntityRef) -> float:
    return (
        1.0 + math.log1p(ref.count) + (1.0 if ref.in_title else 0.0) + (0.5 if ref.in_lead else 0.0)
    )


def _decay(a: datetime | None, b: datetime | None) -> float:
    if a is None or b is None:
        return 1.0
    days = abs((a - b).total_seconds()) / 86400
    return 0.5 + 0.5 * 0.5 ** (days / HALF_LIFE_DAYS)


def _sort_key(article: Article) -> tuple[float, str]:
    ts = article.date.timestamp() if article.date else float("-inf")
    return (-ts, article.source)


def relate(articles: tuple[Article, ...], count: int = 5) -> dict[str, tuple[Related, ...]]:
    """Up to `count` related articles for each article, keyed by its source path."""
    n = len(articles)
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for i, art in enumerate(articles):
        for ref in art.entities:
            postings[ref.name].append((i, _weight(ref)))
    cap = n * MAX_SHARE if n >= MIN_ARTICLES_FOR_CAP else n + 1
    idf = {name: math.log((n + 1) / len(p)) + 0.1 for name, p in postings.items() if len(p) <= cap}
    by_section: dict[str, list[Article]] = defaultdict(list)
    for art in articles:
        by_section[art.section].append(art)
    result: dict[str, tuple[Related, ...]] = {}
    for i, art in enumerate(articles):
        scores: dict[int, float] = defaultdict(float)
        shared: dict[int, list[tuple[float, str]]] = defaultdict(list)
        for ref in art.entities:
            if ref.name not in idf:
                continue
            w_a = _weight(ref) * idf[ref.name]
            for j, w_b in postings[ref.name]:
                if j != i:
                    part = w_a * w_b
                    scores[j] += part
                    shared[j].append((-part, ref.name))
        ranked = sorted(
            scores.items(),
            key=lambda kv: (
                -kv[1] * _decay(art.date, articles[kv[0]].date),
                _sort_key(articles[kv[0]]),
            ),
        )[:count]
        links = [
            Related(articles[j], tuple(name for _, name in sorted(shared[j])), round(s, 6))
            for j, s in ranked
        ]
        if len(links) < count:
            taken = {r.article.source for r in links}
            links += _same_section(art, by_section[art.section], taken, count - len(links))
        result[art.source] = tuple(links)
    return result


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
