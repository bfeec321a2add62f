"""`fragment(...)` in templates (`render.Fragments`): a partial rendered once per set of
objects and reused, never stale: another object (an edited story) renders again."""

from __future__ import annotations

from pathlib import Path

import markupsafe
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from sahifa.config import load_config
from sahifa.model import evolve
from sahifa.render import Fragments, escape, make_env

from .test_page_keys import art


def env_with(tmp_path: Path, card: str):  # noqa: ANN201
    """The default theme with the site's own `article-card.html`."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "article-card.html").write_text(card, encoding="utf-8")
    return make_env(load_config(None, templates_dir=tmp_path / "templates"))


def test_same_objects_render_once(tmp_path: Path) -> None:
    env = env_with(tmp_path, "<li>{{ item.title }} {{ current_section }}</li>")
    fragment = env.globals["fragment"]
    assert isinstance(fragment, Fragments)
    one = art(1)
    first = fragment("article-card.html", item=one, current_section="")
    again = fragment("article-card.html", item=one, current_section="")
    assert str(first) == "<li>خبر 1 </li>"
    assert again is first  # the kept HTML, not a second render
    assert len(fragment.memo) == 1


def test_other_object_or_values_render_again(tmp_path: Path) -> None:
    env = env_with(tmp_path, "<li>{{ item.title }}|{{ current_section }}</li>")
    fragment = env.globals["fragment"]
    one = art(1)
    fragment("article-card.html", item=one, current_section="")
    edited = evolve(one, title="عنوان جديد")
    assert str(fragment("article-card.html", item=edited, current_section="")) == (
        "<li>عنوان جديد|</li>"
    )
    assert str(fragment("article-card.html", item=one, current_section="أخبار")) == (
        "<li>خبر 1|أخبار</li>"
    )
    # Same objects under other names are another call, not a hit.
    assert str(fragment("article-card.html", current_section="", item=one)) == "<li>خبر 1|</li>"


def test_mutable_values_are_never_kept(tmp_path: Path) -> None:
    env = env_with(tmp_path, "{{ item|join(',') }}")
    fragment = env.globals["fragment"]
    items = ["أ"]
    assert str(fragment("article-card.html", item=items)) == "أ"
    items.append("ب")
    assert str(fragment("article-card.html", item=items)) == "أ,ب"
    assert fragment.memo == {}


def test_escapes_and_starts_again_when_full(tmp_path: Path) -> None:
    env = env_with(tmp_path, "<li>{{ item.title }}</li>")
    fragment = env.globals["fragment"]
    fragment.LIMIT = 2
    hostile = art(1, title="<script>x</script>")
    assert "<script>" not in str(fragment("article-card.html", item=hostile))
    for n in (2, 3, 4):
        fragment("article-card.html", item=art(n))
    assert 1 <= len(fragment.memo) <= 2


def test_the_theme_globals_are_called_without_jinja_s_inspection(tmp_path: Path, monkeypatch):
    """`render._direct_calls`: url(), fragment() and built-in methods are called straight
    from the template (inside loops too); a pass_context function a site adds still gets
    the page's context through Jinja's own `Context.call`, and the output is the same."""
    import jinja2

    env = env_with(tmp_path, "<li>{{ item }}</li>")
    env.globals["here"] = jinja2.pass_context(lambda ctx: ctx["where"])
    inspected: list[str] = []
    jinja_call = jinja2.runtime.Context.call

    def counted(self, obj, *args, **kwargs):  # noqa: ANN001, ANN202
        inspected.append(getattr(obj, "__name__", type(obj).__name__))
        return jinja_call(self, obj, *args, **kwargs)

    monkeypatch.setattr(jinja2.runtime.Context, "call", counted)
    page = env.from_string(
        "{% for i in range(2) %}{{ url('/أ/') }}|{{ 'a b'.split()|length }}|{{ here() }}|"
        "{{ fragment('article-card.html', item=i) }};{% endfor %}"
    )
    out = page.render(where="هنا")
    assert out == "/أ/|2|هنا|<li>0</li>;/أ/|2|هنا|<li>1</li>;"
    assert sorted(inspected) == ["<lambda>", "<lambda>", "range"]


@given(st.one_of(st.text(), st.integers(), st.none(), st.floats(allow_nan=False)))
def test_escape_equals_markupsafe(value: object) -> None:
    """The templates' fast `escape` gives markupsafe's result, as Markup, for any value."""
    ours = escape(value)
    assert type(ours) is Markup
    assert ours == markupsafe.escape(value)
    assert escape(Markup(str(value))) == markupsafe.escape(Markup(str(value)))


def test_templates_print_through_the_fast_escape(tmp_path: Path) -> None:
    """Every `{{ }}` of a theme template goes through `render.escape` (swapped into the
    compiled template's namespace), and what it prints is still escaped."""
    env = env_with(tmp_path, "<li>{{ item.title }}|{{ extra }}|{{ safe }}</li>")
    template = env.get_template("article-card.html")
    assert template.root_render_func.__globals__["escape"] is escape
    html = template.render(item=art(1), extra='<b a="1">&\'', safe=Markup("<i>x</i>"))
    assert html == "<li>خبر 1|&lt;b a=&#34;1&#34;&gt;&amp;&#39;|<i>x</i></li>"
    assert env.get_template("article.html").root_render_func.__globals__["escape"] is escape
