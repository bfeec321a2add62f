"""Share links: plain <a> hrefs with the page's absolute URL and title percent-encoded."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


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


def _q(value: str) -> str:
    # quote() with safe="" encodes '&', '#', '?', quotes and newlines; Arabic becomes UTF-8 %XX.
    return quote(value.replace("\r", " ").replace("\n", " "), safe="")


def share_links(url: str, title: str) -> tuple[ShareLink, ...]:
    u, t = _q(url), _q(title)
    both = _q(f"{title} {url}")
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
