"""Share links: plain <a> hrefs with the page's absolute URL and title percent-encoded."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ShareLink:
    network: str  # machine name, used as a CSS class
    label: str  # what a screen reader says
    text: str  # what the button shows
    href: str

    @property
    def external(self) -> bool:
        """Opens another site (in a new tab), not the mail program or the copy button."""
        return self.network not in ("email", "copy")

    @property
    def named_by_label(self) -> bool:
        """The label can be the link's accessible name: it contains the visible text as a
        word (WCAG 2.5.3), as "شارك عبر فيسبوك" does "فيسبوك". Otherwise the label is read
        after the text ("بريد (أرسل بالبريد الإلكتروني)")."""
        return self.text in self.label.split()


# Every byte but the unreserved ASCII ones as %XX, for str.translate over a text's UTF-8 bytes
# read as Latin-1 (one character per byte): quote()'s result, in C (quote builds a list
# with a Python step per byte, every byte of an Arabic title; ~5 % of an article's render).
_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
_PERCENT = {byte: f"%{byte:02X}" for byte in range(256) if byte not in _UNRESERVED}


def quote_all(value: str) -> str:
    """`urllib.parse.quote(value, safe="")`: '&', '#', '?', '/', quotes and new lines too;
    Arabic becomes UTF-8 %XX."""
    return value.encode("utf-8").decode("latin-1").translate(_PERCENT)


def _q(value: str) -> str:
    return quote_all(value.replace("\r", " ").replace("\n", " "))


def share_links(url: str, title: str) -> tuple[ShareLink, ...]:
    u, t = _q(url), _q(title)
    both = f"{t}%20{u}"  # _q(f"{title} {url}"): quoting goes byte by byte
    return (
        ShareLink(
            "facebook",
            "شارك عبر فيسبوك",
            "فيسبوك",
            f"https://www.facebook.com/sharer/sharer.php?u={u}",
        ),
        ShareLink("whatsapp", "شارك عبر واتساب", "واتساب", f"https://wa.me/?text={both}"),
        ShareLink(
            "telegram", "شارك عبر تيليغرام", "تيليغرام", f"https://t.me/share/url?url={u}&text={t}"
        ),
        ShareLink("x", "شارك عبر إكس", "إكس", f"https://x.com/intent/post?url={u}&text={t}"),
        ShareLink("email", "أرسل بالبريد الإلكتروني", "بريد", f"mailto:?subject={t}&body={u}"),
        ShareLink("copy", "انسخ رابط المقال", "نسخ الرابط", url),
    )
