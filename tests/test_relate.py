"""Related articles: shared entities, rarity, time, fallback, determinism."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

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
