"""Site-wide linking (sahifa/site.py): the entities named beside each entity."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from sahifa.entities import load_gazetteer
from sahifa.model import Article, EntityRef
from sahifa.site import _companions, _top_co_entities, co_entities, link_site


def art(source: str, *names: str) -> Article:
    refs = tuple(EntityRef(n, "place") for n in names)
    return Article(source=source, title=source, slug=source, section="أخبار", body_html="",
                   text="", entities=refs)  # fmt: skip


def test_co_entities_rank_by_articles_together_then_name_and_leave_out_the_entity():
    site = link_site(
        (art("a", "دمشق", "حلب", "حمص"), art("b", "دمشق", "حلب"), art("c", "دمشق", "بيروت")),
        load_gazetteer(None),
        related_count=3,
        ascii_only=False,
    )
    assert site.co_entities["دمشق"] == (("حلب", 2), ("بيروت", 1), ("حمص", 1))
    assert site.co_entities["بيروت"] == (("دمشق", 1),)


def test_co_entities_from_the_memo_are_what_counting_gives():
    """Each build passes the last build's memo: after random edits (names added, dropped,
    swapped; articles added and removed) the answer equals counting from scratch, and only
    the entities of articles whose names changed are counted again."""
    rng = random.Random(11)
    pool = [f"مكان{i}" for i in range(60)]
    arts = {f"a{i}": rng.sample(pool, rng.randint(1, 8)) for i in range(120)}

    def ordered() -> tuple[Article, ...]:
        return tuple(art(src, *names) for src, names in sorted(arts.items()))

    _, memo = co_entities(ordered())
    for _ in range(40):
        src = rng.choice(sorted(arts))
        before = set(arts[src])
        kind = rng.randrange(4)
        if kind == 0:
            arts[src] = arts[src] + [rng.choice(pool)]
        elif kind == 1 and len(arts[src]) > 1:
            arts[src] = arts[src][1:]
        elif kind == 2:
            arts[f"n{rng.random()}"] = rng.sample(pool, 3)  # a new source
        else:
            del arts[src]
        now = ordered()
        top, new_memo = co_entities(now, memo)
        assert top == co_entities(now)[0]
        touched = before | set(arts.get(src, ())) | {n for a in now for n in arts[a.source]
                                                     if a.source.startswith("n")}  # fmt: skip
        kept = [n for n in top if n in memo and new_memo[n][1] is memo[n][1]]
        recounted = [n for n in top if n not in kept]
        assert set(recounted) <= touched | (set(new_memo) - set(memo))
        memo = new_memo
    # an unchanged site reuses every entry
    top, again = co_entities(ordered(), memo)
    assert all(again[n][1] is memo[n][1] for n in again)


def test_top_co_entities_is_the_first_ten_of_the_full_ranking():
    rng = random.Random(5)
    names = [f"اسم{i}" for i in range(40)]
    for _ in range(300):
        counts = Counter({n: rng.randint(1, 6) for n in rng.sample(names, rng.randint(1, 40))})
        counts["الذات"] = 99
        expected = sorted(
            ((n, c) for n, c in counts.items() if n != "الذات"), key=lambda kv: (-kv[1], kv[0])
        )[:10]
        assert _top_co_entities("الذات", Counter(counts)) == tuple(expected)


def test_evolve_is_replace_without_init():
    """The build's fast copy-with-changes gives what dataclasses.replace gives, for every
    field of an Article, and refuses a field the type does not have."""
    import dataclasses

    import pytest

    from sahifa.model import Article, evolve

    art = Article(source="a.md", title="عنوان", slug="a", section="أخبار", body_html="<p>x</p>",
                  text="x", tags=("t",))  # fmt: skip
    for f in dataclasses.fields(Article):
        value = ("تغيير",) if isinstance(getattr(art, f.name), tuple) else 7
        new = evolve(art, **{f.name: value})
        assert new == dataclasses.replace(art, **{f.name: value}) and new is not art
        assert getattr(art, f.name) != value  # the original is untouched
    with pytest.raises(TypeError, match="no field 'pathh'"):
        evolve(art, pathh="/x/")


def test_the_section_menu_keeps_its_order_whichever_section_has_the_newest_story():
    """The menu is on every page: if a new story in another section reordered it, one
    story would change every page of the site."""
    from dataclasses import replace

    stories = [replace(art(src), section=sec) for src, sec in (("a", "رياضة"), ("b", "اقتصاد"))]
    stories.append(replace(art("c"), section="سياسة"))
    menus = []
    for newest_first in (stories, stories[::-1], stories[1:] + stories[:1]):
        site = link_site(tuple(newest_first), load_gazetteer(None), 3, ascii_only=False)
        menus.append(list(site.section_paths))
    assert menus[0] == menus[1] == menus[2] == sorted(menus[0])
    assert list(site.section_paths) == list(site.sections)  # one order for both


@given(st.lists(st.lists(st.sampled_from("abcdefg"), unique=True, max_size=6), max_size=30))
@settings(max_examples=200, deadline=None, database=None)
def test_companions_counted_from_either_side_are_a_plain_count(names_of):
    members: dict[str, list[int]] = {}
    for i, names in enumerate(names_of):
        for name in names:
            members.setdefault(name, []).append(i)
    for mine in members.values():  # entities in most articles are counted from outside
        plain = Counter(name for i in mine for name in names_of[i])
        assert dict(_companions(mine, names_of, members)) == dict(plain)  # no zero counts
