"""Latin runs and phone numbers inside Arabic lines are isolated with <bdi> (typography rule 5)."""

from __future__ import annotations

import html

from bs4 import BeautifulSoup

from sahifa.bidi import isolate
from sahifa.readers import read_article


def bdis(fragment: str) -> list[tuple[str, str | None]]:
    soup = BeautifulSoup(f"<p>{fragment}</p>", "html.parser")
    return [(b.get_text(), b.get("dir")) for b in soup.find_all("bdi")]


def text_of(fragment: str) -> str:
    return BeautifulSoup(f"<p>{fragment}</p>", "html.parser").get_text()


CASES = {
    "أعلنت شركة Yahoo! عن نتائجها": [("Yahoo!", None)],
    "الكاتب: Smith, J. 3 مقالات": [("Smith, J.", None)],
    "اتصل على +961 1 234 567 للحجز": [("+961 1 234 567", "ltr")],
    "في عام 2024 زار الوفد Paris.": [("Paris", None)],  # the full stop ends the Arabic sentence
    "أطلقت Apple هاتف iPhone 17 Pro في دبي": [("Apple", None), ("iPhone 17 Pro", None)],
    "منظمة COVID-19 و AT&T وغيرها": [("COVID-19", None), ("AT&T", None)],
    "زار Mr. Smith المدينة": [("Mr. Smith", None)],
    "نص عربي فقط عن عام 2024": [],
    "The festival opened in Cairo (القاهرة) today.": [],  # mostly Latin: dir=ltr does the job
}


def test_isolation_cases():
    for text, expected in CASES.items():
        out = isolate(text)
        assert bdis(out) == expected, text
        assert text_of(out) == text  # nothing added or lost


def test_markup_in_text_stays_text():
    out = isolate("قال المتحدث إن <b>Google</b> & شركاءها وقعوا الاتفاق في الرياض")
    soup = BeautifulSoup(f"<p>{out}</p>", "html.parser")
    assert soup.find("b") is None and soup.get_text().startswith("قال المتحدث إن <b>")
    assert [b.get_text() for b in soup.find_all("bdi")] == ["b", "Google", "b"]


def test_readers_isolate_paragraphs_and_headings():
    scraped = (
        "عنوان الخبر عن شركة Apple\n\n"
        "أعلنت شركة Yahoo! عن نتائجها الفصلية اليوم في مؤتمر صحفي عقد في العاصمة.\n\n"
        "The company said results beat the forecast for the third quarter in a row.\n"
    )
    art = read_article("a.txt", scraped.encode())
    soup = BeautifulSoup(art.body_html, "html.parser")
    paras = soup.find_all("p")
    assert [b.get_text() for b in paras[0].find_all("bdi")] == ["Yahoo!"]
    assert paras[1]["dir"] == "ltr" and paras[1].find("bdi") is None
    md = "---\ntitle: عنوان\n---\n## تقرير عن Google Maps\n\nقال مدير **Microsoft** في بيروت إن الخطة جاهزة.\n"
    soup = BeautifulSoup(read_article("b.md", md.encode()).body_html, "html.parser")
    assert soup.find("h2").find("bdi").get_text() == "Google Maps"
    assert soup.find("strong").find("bdi").get_text() == "Microsoft"


def test_escape_only_means_isolate_only_escapes():
    """`escape_only` (the Markdown prose path relies on it): true only when `isolate` leaves
    every line as escaped text and no line has left-to-right letters."""
    from sahifa.arabic import text_direction
    from sahifa.bidi import escape_only

    for text in ["قال الرئيس <اليوم> & غدا", "عام ١٩٩٠", "نسبة ٪ و: (نعم)"]:
        assert escape_only(text)
        assert isolate(text) == isolate(text, arabic_line=True) == html.escape(text, quote=False)
        assert text_direction(text) is None
    for text in ["شركة Yahoo! عن", "اتصل +961 1 234 567", "رقم 00963 11", "Ωμέγα", "عام 2005"]:
        assert not escape_only(text)
