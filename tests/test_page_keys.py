"""Page keys (`render.context_key`): the same inputs give the same key in every build, and
any change a page could show gives a new one. An unchanged key means the page is not
rendered again, so a key that misses a change leaves a stale page on the site."""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace
from dataclasses import replace as dc_replace
from datetime import UTC, datetime
from typing import Any

from sahifa.config import load_config
from sahifa.frontpage import Neighbours
from sahifa.incremental import Builder
from sahifa.model import Article, Entity, EntityRef, Related, evolve
from sahifa.pages import Pager
from sahifa.render import (
    CARD_FIELDS,
    SHOWABLE,
    KeyMemo,
    PageJob,
    context_key,
    make_env,
    page_jobs,
    render_job,
    shown_fields,
)

from .conftest import ROOT


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


# -- which card fields count: the ones the templates can show ---------------------------------


def _changed(value: Any) -> Any:
    """A different value of the same kind."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1000
    if isinstance(value, str):
        return value + " تغيير"
    if isinstance(value, tuple):
        return () if value else ("تغيير",)
    return datetime(2031, 5, 6, 7, 8, tzinfo=UTC)  # a date or None


def _other_cards_changed(value: Any, own: Any, hidden: list[str]) -> Any:
    """`value` with every article in it but the page's own changed in the `hidden` fields."""
    if isinstance(value, Article):
        if value is own:
            return value
        return evolve(value, **{name: _changed(getattr(value, name)) for name in hidden})
    if isinstance(value, dict):
        return {k: _other_cards_changed(v, own, hidden) for k, v in value.items()}
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        return type(value)(_other_cards_changed(v, own, hidden) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        over = {f.name: _other_cards_changed(getattr(value, f.name), own, hidden)
                for f in fields(value) if f.init}  # fmt: skip
        return replace(value, **over)
    return value


def test_a_card_field_no_template_shows_changes_no_page(tmp_path):
    """`shown_fields` leaves out of the page keys the card fields no template names (a body
    edit changes the word count: the listings showing the card are not rendered again). That
    is only right if no page shows them: every page of the sample site, rendered with those
    fields changed on every article but its own, is byte for byte the same."""
    config = load_config(None, content_dir=ROOT / "content", output_dir=tmp_path / "site")
    site = Builder(config).site()
    env = make_env(config)
    shown = shown_fields(env)
    hidden = [name for name in CARD_FIELDS if name not in shown]
    assert {"words", "tags", "entities", "updated"} <= set(hidden)
    assert {"title", "path", "date", "summary", "section", "image", "source"} <= set(shown)
    jobs = list(page_jobs(site, config))
    assert sum(job.template == "article.html" for job in jobs) >= 10
    changed = 0
    for job in jobs:
        own = job.context.get("article")
        other = PageJob(job.file, job.template, _other_cards_changed(job.context, own, hidden))
        changed += other.context != job.context
        assert render_job(env, other) == render_job(env, job), job.file
    assert changed >= 0.8 * len(jobs)  # nearly every page shows other articles
    # and the keys: a hidden field leaves a listing's key alone, a shown one does not
    items = (art(1), art(2))
    memo = KeyMemo(shown)
    first = context_key(listing_page(items), memo)
    assert (
        context_key(listing_page((art(1), art(2, words=7, tags=("وسم",)))), KeyMemo(shown)) == first
    )
    assert context_key(listing_page((art(1), art(2, title="آخر"))), KeyMemo(shown)) != first


def test_a_template_that_names_a_field_makes_it_count(tmp_path):
    """A site's own card template that shows the word count: `words` counts again."""
    own = tmp_path / "templates"
    own.mkdir()
    (own / "article-card.html").write_text(
        "<li>{{ item.title }} ({{ item.words }})</li>\n", encoding="utf-8"
    )
    config = load_config(None, content_dir=ROOT / "content", output_dir=tmp_path / "site")
    config = dc_replace(config, templates_dir=own)
    assert "words" in shown_fields(make_env(config))
    (own / "article-card.html").write_text("{% if %}", encoding="utf-8")  # unreadable
    assert shown_fields(make_env(config)) == SHOWABLE


def test_a_related_links_score_counts_only_when_a_template_shows_it(tmp_path):
    """A new story changes the scores of the links between the stories that share its
    entities (idf); no built-in template prints a score, so those pages keep their keys.
    A site template that prints it makes the score count again."""
    config = load_config(None, content_dir=ROOT / "content", output_dir=tmp_path / "site")
    shown = shown_fields(make_env(config))
    assert "score" not in shown
    rescored = {"related": (Related(art(2), ("دمشق",), 0.75), Related(art(3)))}
    assert context_key(article_page(), KeyMemo(shown)) == context_key(
        article_page(**rescored), KeyMemo(shown)
    )
    reordered = {"related": (Related(art(3)), Related(art(2), ("دمشق",), 1.25))}
    assert context_key(article_page(**reordered), KeyMemo(shown)) != context_key(
        article_page(), KeyMemo(shown)
    )
    own = tmp_path / "templates"
    own.mkdir()
    (own / "related.html").write_text(
        "{% for r in related %}{{ r.article.title }} {{ r.score }}{% endfor %}\n", "utf-8"
    )
    shown = shown_fields(make_env(dc_replace(config, templates_dir=own)))
    assert "score" in shown
    assert context_key(article_page(), KeyMemo(shown)) != context_key(
        article_page(**rescored), KeyMemo(shown)
    )
