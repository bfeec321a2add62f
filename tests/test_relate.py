"""Related articles: shared entities, rarity, time, fallback, determinism."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sahifa.model import Article, EntityRef
from sahifa.relate import relate

T0 = datetime(2024, 10, 1, tzinfo=UTC)


def art(name: str, days: int, *ents: str, section: str = "s", title: str = "") -> Article:
    refs = tuple(EntityRef(e, "place", 1, e in title) for e in ents)
    return Article(
        name, title or name, name, section, "", name, date=T0 + timedelta(days=days), entities=refs
    )


def test_rare_shared_entity_beats_common_one():
    arts = [art("a", 0, "كونيكو", "سوريا"), art("b", 1, "كونيكو"), art("c", 2, "سوريا")]
    arts += [art(f"x{i}", 3 + i, "سوريا") for i in range(5)]
    rel = relate(tuple(arts), 2)
    assert rel["a"][0].article.source == "b"
    assert rel["a"][0].shared == ("كونيكو",)


def test_newer_follow_up_is_allowed_and_ties_go_to_newer():
    arts = (art("old", 0, "e"), art("mid", 10, "e"), art("new", 20, "e"))
    rel = relate(arts, 2)
    assert [r.article.source for r in rel["mid"]] == ["new", "old"]


def test_time_decay_prefers_closer_story():
    arts = (art("a", 0, "e"), art("near", 3, "e"), art("far", 400, "e"))
    assert relate(arts, 1)["a"][0].article.source == "near"


def test_fallback_same_section_newest_first():
    arts = (
        art("a", 0),
        art("b", 5, section="s"),
        art("c", 9, section="s"),
        art("d", 9, section="t"),
    )
    rel = relate(arts, 2)
    assert [r.article.source for r in rel["a"]] == ["c", "b"]
    assert rel["a"][0].shared == ()


def test_result_does_not_depend_on_input_order():
    arts = [art(f"a{i}", i % 3, "e", "f" if i % 2 else "g") for i in range(12)]
    one = relate(tuple(arts), 3)
    two = relate(tuple(reversed(arts)), 3)
    assert {k: [r.article.source for r in v] for k, v in one.items()} == {
        k: [r.article.source for r in v] for k, v in two.items()
    }


def test_count_is_respected():
    arts = tuple(art(f"a{i}", i, "e") for i in range(10))
    assert all(len(v) == 4 for v in relate(arts, 4).values())


def test_cached_relate_rescored_only_where_inputs_changed(monkeypatch):
    import sahifa.relate as rel

    calls: list[str] = []
    real = rel._scored
    monkeypatch.setattr(rel, "_scored", lambda a, *r: calls.append(a.source) or real(a, *r))
    arts = [art("a", 0, "e", "f"), art("b", 1, "e"), art("c", 2, "f"), art("d", 3, "g")]
    arts += [art("z", 4, "g")]
    first, memo = rel.relate_cached(tuple(arts), 2, {})
    assert sorted(calls) == ["a", "b", "c", "d", "z"]
    calls.clear()
    # A new title and body but the same entities and date: nothing is scored again, and the
    # links point at the new article object.
    retitled = [art("b", 1, "e", title="عنوان جديد"), *arts[:1], *arts[2:]]
    second, memo = rel.relate_cached(tuple(retitled), 2, memo)
    assert calls == []
    assert second["a"][0].article.title == "عنوان جديد"
    # A new article naming "g": only the articles whose entities' postings changed.
    third, memo = rel.relate_cached((*retitled, art("y", 5, "g")), 2, memo)
    assert sorted(calls) == ["d", "y", "z"]
    assert [r.article.source for r in third["d"]] == ["z", "y"]
    # and the result equals a relate from scratch
    fresh = relate((*retitled, art("y", 5, "g")), 2)
    assert {k: [(r.article.source, r.shared) for r in v] for k, v in third.items()} == {
        k: [(r.article.source, r.shared) for r in v] for k, v in fresh.items()
    }
    # "b" names "e" three times now: its weight in e's postings changed, so "b" and "a"
    # (which shares e) are scored again; "c" (f only) and the g articles are not.
    calls.clear()
    louder = replace(retitled[0], entities=(EntityRef("e", "place", 3),))
    rel.relate_cached((louder, *retitled[1:], art("y", 5, "g")), 2, memo)
    assert sorted(calls) == ["a", "b"]
    calls.clear()
    later = replace(retitled[0], date=T0 + timedelta(days=1, hours=1))
    rel.relate_cached((later, *retitled[1:], art("y", 5, "g")), 2, memo)
    assert sorted(calls) == ["a", "b"]  # a new date: the same two


def _reference(articles: tuple[Article, ...], count: int) -> dict[str, list[tuple[str, float]]]:
    """relate's scoring written out plainly: every candidate in the windows is decayed and
    fully sorted (the module stops early once no candidate left can win)."""
    import bisect
    import heapq

    import sahifa.relate as rel

    index = rel._index(articles)
    out = {}
    for rank, i in enumerate(index.order):
        a = articles[i]
        telling = [(rel._weight(r) * index.idf[r.name], r.name)
                   for r in a.entities if r.name in index.idf]  # fmt: skip
        scores: dict[int, float] = {}
        for w_a, name in heapq.nlargest(rel.TOP_ENTITIES, telling):
            plist = index.postings[name]
            p = bisect.bisect_left(plist, rank)
            lo, hi = max(0, p - rel.NEIGHBOURS), p + rel.NEIGHBOURS + 1
            for other, w in zip(plist[lo:hi], index.posted[name][lo:hi], strict=True):
                if other != rank:
                    scores[other] = scores.get(other, 0.0) + w_a * w
        mine = index.stamps[rank]
        ranked = sorted(
            scores.items(),
            key=lambda kv: (-kv[1] * rel._decay_seconds(mine, index.stamps[kv[0]]), kv[0]),
        )[:count]
        out[a.source] = [(articles[index.order[r]].source, round(s, 6)) for r, s in ranked]
    return out


@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(0, 400)),  # day (None: undated)
            st.lists(st.sampled_from("abcdefgh"), max_size=5, unique=True),  # entities
            st.lists(st.integers(1, 4), min_size=5, max_size=5),  # mention counts
        ),
        min_size=1,
        max_size=70,
    ),
    st.integers(1, 6),
)
@settings(max_examples=150, deadline=None, database=None)
def test_scoring_equals_a_full_sort_of_every_candidate(rows, count):
    arts = []
    for n, (day, ents, counts) in enumerate(rows):
        refs = tuple(EntityRef(e, "place", c, False) for e, c in zip(ents, counts, strict=False))
        date = None if day is None else T0 + timedelta(days=day)
        arts.append(Article(f"a{n}", f"a{n}", f"a{n}", "s", "", f"a{n}", date=date, entities=refs))
    arts_t = tuple(arts)
    want = _reference(arts_t, count)
    got = relate(arts_t, count)
    for source, links in got.items():
        scored = [(r.article.source, r.score) for r in links if r.shared]
        assert scored == want[source]
