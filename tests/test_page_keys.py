"""Page keys (`render.context_key`): the same inputs give the same key in every build, and
any change a page could show gives a new one. An unchanged key means the page is not
rendered again, so a key that misses a change leaves a stale page on the site."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sahifa.frontpage import Neighbours
from sahifa.model import Article, Entity, EntityRef, Related
from sahifa.pages import Pager
from sahifa.render import PageJob, context_key


def art(n: int, **changes: Any) -> Article:
    base = Article(
        source=f"a{n}.md", title=f"خبر {n}", slug=f"a{n}", section="أخبار", body_html="<p>نص</p>",
        text="نص", date=datetime(2025, 1, n, tzinfo=UTC), summary=f"ملخص {n}", words=100 + n,
        entities=(EntityRef("دمشق", "place", 2, True, False),), digest=f"d{n}", path=f"/a/{n}/",
    )  # fmt: skip
    return replace(base, **changes)


def article_page(**over: Any) -> PageJob:
    """An article page's context made from fresh objects each time, as each build does."""
    ctx: dict[str, Any] = {
        "article": art(1),
        "related": (Related(art(2), ("دمشق",), 1.25), Related(art(3))),
        "entities": [Entity("دمشق", "place", "دمشق"), Entity("حلب", "place", "حلب")],
        "neighbours": Neighbours(older=art(4), newer=None),
        "sections": (("أخبار", "/أخبار/"),),
        "feeds": [{"href": "/feed.xml", "title": "أخبار"}],
        "show_toc": False,
    }
    ctx.update(over)
    return PageJob("a/1/index.html", "article.html", ctx)


def listing_page(items: tuple[Article, ...], **over: Any) -> PageJob:
    pager = Pager(1, 2, items, "/entity/x/", None, "/entity/x/page/2/")
    return PageJob("entity/x/index.html", "entity.html", {"pager": pager, "title": "س", **over})


def test_the_same_inputs_give_the_same_key_from_new_objects():
    assert context_key(article_page()) == context_key(article_page())
    items = (art(1), art(2))
    assert context_key(listing_page(items)) == context_key(listing_page((art(1), art(2))))
    memo: dict = {}  # one memo for a whole build
    keys = [context_key(article_page(), memo) for _ in range(3)]
    assert len(set(keys)) == 1 and keys[0] == context_key(article_page())


def test_every_change_a_page_can_show_changes_its_key():
    first = context_key(article_page())
    changed = {
        "own body": article_page(article=art(1, digest="d1-edited")),
        "own title": article_page(article=art(1, title="عنوان آخر")),
        "a related card": article_page(related=(Related(art(2, words=999), ("دمشق",), 1.25), Related(art(3)))),
        "a related link's entities": article_page(related=(Related(art(2), ("حلب",), 1.25), Related(art(3)))),
        "a related link's score": article_page(related=(Related(art(2), ("دمشق",), 1.5), Related(art(3)))),
        "one related link fewer": article_page(related=(Related(art(2), ("دمشق",), 1.25),)),
        "an entity's slug": article_page(entities=[Entity("دمشق", "place", "دمشق-2"), Entity("حلب", "place", "حلب")]),
        "one entity fewer": article_page(entities=[Entity("دمشق", "place", "دمشق")]),
        "a neighbour's card": article_page(neighbours=Neighbours(older=art(4, path="/b/4/"), newer=None)),
        "a dict in a list": article_page(feeds=[{"href": "/feed.xml", "title": "سياسة"}]),
        "a key in a dict": article_page(feeds=[{"href": "/feed.xml", "title": "أخبار", "x": 1}]),
        "a flag": article_page(show_toc=True),
        "a card's entity": article_page(related=(Related(art(2, entities=()), ("دمشق",), 1.25), Related(art(3)))),
    }  # fmt: skip
    keys = {what: context_key(job) for what, job in changed.items()}
    for what, key in keys.items():
        assert key != first, what
    assert len(set(keys.values())) == len(keys)  # and no two changes collide


def test_a_listing_key_follows_its_cards_and_its_place():
    items = (art(1), art(2))
    first = context_key(listing_page(items))
    assert context_key(listing_page((art(1), art(2, summary="ملخص جديد")))) != first
    assert context_key(listing_page((art(2), art(1)))) != first  # order
    assert context_key(listing_page((art(1),))) != first
    moved = PageJob("entity/x/index.html", "entity.html", {
        "pager": Pager(2, 2, items, "/entity/x/page/2/", "/entity/x/", None), "title": "س"})  # fmt: skip
    assert context_key(moved) != first


def test_another_article_stands_for_its_card_not_its_body():
    """Editing a story's body re-renders its own page, not every listing that shows it."""
    items = (art(1), art(2))
    first = context_key(listing_page(items))
    edited = art(2, body_html="<p>نص آخر</p>", text="نص آخر", digest="d2-edited")
    assert context_key(listing_page((art(1), edited))) == first
