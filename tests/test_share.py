"""Share links' percent-encoding (`share.quote_all`, a faster `quote(..., safe="")`)."""

from __future__ import annotations

from urllib.parse import quote, unquote

from hypothesis import given
from hypothesis import strategies as st

from sahifa.share import quote_all, share_links

# Text that encodes to UTF-8 (a lone surrogate cannot be in a page title read from UTF-8).
texts = st.text(st.characters(exclude_categories=("Cs",)))


@given(texts)
def test_quote_all_equals_urllib(value: str) -> None:
    assert quote_all(value) == quote(value, safe="")


@given(texts, texts)
def test_each_link_carries_the_url_and_title(url: str, title: str) -> None:
    links = {link.network: link.href for link in share_links(url, title)}
    one_line = title.replace("\r", " ").replace("\n", " ")
    flat_url = url.replace("\r", " ").replace("\n", " ")
    whatsapp = links["whatsapp"].removeprefix("https://wa.me/?text=")
    assert unquote(whatsapp) == f"{one_line} {flat_url}"
    assert links["telegram"] == (
        f"https://t.me/share/url?url={quote(flat_url, safe='')}&text={quote(one_line, safe='')}"
    )
    assert links["copy"] == url
