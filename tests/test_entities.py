"""Entity matching, discovery, promotion and the `entities` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sahifa.arabic import token_columns
from sahifa.cli import main
from sahifa.entities import (
    Matcher,
    analyse,
    article_candidates,
    extract,
    find_mentions,
    load_gazetteer,
    promote_candidates,
)
from sahifa.readers import decode, read_article

from .conftest import SEED, make_content

SEED_EXPECTED = {
    "دير الزور", "كونيكو", "التحالف الدولي", "إيران", "واشنطن", "إسرائيل",
    "قوات سوريا الديمقراطية", "التنف", "نهر الفرات", "سوريا", "لبنان", "يوسف الشامي",
    "SY24", "صدى الشرقية",
}  # fmt: skip


@pytest.fixture(scope="module")
def gaz():
    return load_gazetteer(None)


def names(gaz, text: str) -> list[str]:
    return [name for name, _ in find_mentions(gaz, text)]


def test_seed_finds_exactly_the_expected_entities(gaz):
    text = decode("seed", SEED.read_bytes())
    found = {f.name: f for f in analyse(gaz, text)}
    assert set(found) == SEED_EXPECTED
    assert found["يوسف الشامي"].type == "person"
    assert found["كونيكو"].type == "place"
    assert found["SY24"].type == "organisation"
    assert found["صدى الشرقية"].type == "organisation"
    assert [m.text for m in found["قوات سوريا الديمقراطية"].mentions] == ["قسد"]
    for f in found.values():
        assert all(text[m.start : m.end] == m.text for m in f.mentions)


def test_seed_via_the_cli_json(capsys):
    assert main(["entities", "--json", str(SEED)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [item["file"] for item in out] == [str(SEED)]
    assert {e["name"] for e in out[0]["entities"]} == SEED_EXPECTED
    text = decode("seed", SEED.read_bytes())
    for ent in out[0]["entities"]:
        assert ent["type"] in ("place", "person", "organisation", "other")
        for m in ent["mentions"]:
            assert text[m["start"] : m["end"]] == m["text"]
    deir = next(e for e in out[0]["entities"] if e["name"] == "دير الزور")
    assert {m["text"] for m in deir["mentions"]} == {"دير الزور"}  # لدير الزور: clitic excluded


@pytest.mark.parametrize(
    ("text", "name", "surface"),
    [
        ("قصف بدير الزور", "دير الزور", "دير الزور"),
        ("رسالة لإيران", "إيران", "إيران"),
        ("بين القوات وواشنطن", "واشنطن", "واشنطن"),
        ("والتحالف الدولي يرد", "التحالف الدولي", "التحالف الدولي"),
        ("وصل للعراق", "العراق", "لعراق"),  # ل + العراق: the article's ل stays
        ("وبالعراق", "العراق", "العراق"),
    ],
)
def test_proclitics_come_off_known_names(gaz, text, name, surface):
    found = find_mentions(gaz, text)
    assert [(n, m.text) for n, m in found] == [(name, surface)]


@pytest.mark.parametrize("word", ["لبنان", "بغداد", "واشنطن", "فلسطين", "كندا", "ليبيا"])
def test_whole_names_that_start_like_a_clitic_survive(gaz, word):
    assert [(n, m.text) for n, m in find_mentions(gaz, f"زار {word} أمس")] == [(word, word)]


def test_offsets_are_exact_with_harakat_and_tatweel(gaz):
    text = "وَصَلَ الوفدُ إلى بِدِيرِ الزّورِ ثم وَوَاشِنْطُن ولبنـــان"
    found = find_mentions(gaz, text)
    assert [n for n, _ in found] == ["دير الزور", "واشنطن", "لبنان"]
    assert [m.text for _, m in found] == ["دِيرِ الزّورِ", "وَاشِنْطُن", "لبنـــان"]
    assert all(text[m.start : m.end] == m.text for _, m in found)


def test_longest_match_wins(gaz):
    assert names(gaz, "قوات سوريا الديمقراطية في دير الزور") == [
        "قوات سوريا الديمقراطية",
        "دير الزور",
    ]


def test_stop_words_and_adjectives_are_not_entities(gaz):
    assert names(gaz, "في الريف الشرقي وقرية طابية جزيرة والدير") == []
    assert names(gaz, "الحدود السورية-الأردنية-العراقية والميليشيات الإيرانية") == []
    assert names(gaz, "بلغ الحد الأقصى في مسقط رأسه") == []


def test_aliases_map_to_one_canonical(gaz):
    assert names(gaz, "قسد وداعش والناتو") == [
        "قوات سوريا الديمقراطية", "تنظيم الدولة الإسلامية", "حلف شمال الأطلسي",
    ]  # fmt: skip


def test_person_introduced_by_a_title_is_a_candidate(gaz):
    text = "وقال وزير الخارجية الإيراني السابق خالد فاضل إن بلاده ترفض. وأضاف فاضل أن"
    found = {f.name: f for f in analyse(gaz, text)}
    assert found["خالد فاضل"].type == "person" and not found["خالد فاضل"].known
    assert [m.text for m in found["خالد فاضل"].mentions] == ["خالد فاضل", "فاضل"]


def test_titles_do_not_swallow_verbs_or_adjectives(gaz):
    for text in (
        "قال الرئيس إن الوضع",
        "مدرب إيطالي يقود فريقًا",
        "عدّ مدرب الضيوف النقطة «مكسبًا معنويًا»",
    ):
        assert [f.name for f in analyse(gaz, text)] == [], text


def test_latin_names_in_arabic_prose_but_not_english_sentences(gaz):
    found = {
        f.name: f.type for f in analyse(gaz, "قالت مجموعة International Crisis Group ووكالة AFP")
    }
    assert found == {"International Crisis Group": "other", "فرانس برس": "organisation"}
    assert [f.name for f in analyse(gaz, "Please read the Short note.")] == []


def _article(rel: str, text: str):
    return read_article(rel, text.encode("utf-8"))


def test_candidates_recurring_in_two_articles_become_entities(gaz):
    one = _article("a.txt", "عنوان\n\nقصف قرب قرية “العزبة” في الريف.\n")
    two = _article("b.txt", "عنوان آخر\n\nهدوء في قرية «العزبة» اليوم.\n")
    lone = _article("c.txt", "عنوان ثالث\n\nوصل إلى بلدة «الصالحية» صباحا.\n")
    promoted = promote_candidates(gaz, [one, two, lone])
    assert "العزبة" in promoted.entities and promoted.entities["العزبة"].type == "place"
    assert "الصالحية" not in promoted.entities
    assert "العزبة" not in gaz.entities  # the input list is not changed
    assert [r.name for r in extract(promoted, two)] == ["العزبة"]


def test_site_entities_toml_adds_and_ignores(tmp_path: Path):
    site = tmp_path / "entities.toml"
    site.write_text('ignore = ["بوش"]\n[place]\n"الصالحية" = ["صالحية"]\n', encoding="utf-8")
    gaz = load_gazetteer(site)
    assert names(gaz, "وصل بوش إلى الصالحية") == ["الصالحية"]


def test_site_listing_json(tmp_path: Path, capsys):
    content = make_content(tmp_path, {
        "a.txt": "قصف في دير الزور\n\nقال الناشط يوسف الشامي إن قرية “العزبة” تحت القصف.\n",
        "b.txt": "هدوء في دير الزور\n\nقال الناشط يوسف الشامي إن الوضع هادئ.\n",
    })  # fmt: skip
    assert main(["entities", "--json", "--content", str(content)]) == 0
    out = json.loads(capsys.readouterr().out)
    ents = {e["name"]: e for e in out["entities"]}
    assert ents["دير الزور"]["articles"] == 2 and ents["دير الزور"]["type"] == "place"
    assert ents["يوسف الشامي"]["type"] == "person"  # promoted: seen in two articles
    assert [c["name"] for c in out["candidates"]] == ["العزبة"]


def _mentions(gaz, text: str) -> dict[str, tuple[str, list[str]]]:
    return {f.name: (f.type, [m.text for m in f.mentions]) for f in analyse(gaz, text)}


@pytest.mark.parametrize(
    ("text", "name", "surface"),
    [
        ("توغلت دبابات في قطاع غزة فجرا", "غزة", "غزة"),
        ("نفت حركة حماس الخبر", "حماس", "حماس"),
        ("وصل الوفد إلى جمهورية الصين الشعبية أمس", "الصين", "الصين"),
        ("قصف في مدينة الصدر ببغداد", "مدينة الصدر", "الصدر"),
        ("استقبل الملك عبد الله الثاني الوفد", "الملك عبد الله الثاني", "عبد الله الثاني"),
    ],
)
def test_head_nouns_and_titles_stay_out_of_the_mention(gaz, text, name, surface):
    found = _mentions(gaz, text)
    assert found[name][1] == [surface]


def test_joined_abd_spelling_matches(gaz):
    assert names(gaz, "وصل عبدالله الثاني إلى عمان") == ["الملك عبد الله الثاني", "عمان"]


def test_treaty_names_are_not_places(gaz):
    assert names(gaz, "تمسك الفرقاء باتفاق الطائف وزار الوفد الطائف") == ["الطائف"]


def test_currencies_and_the_name_of_god_are_other(gaz):
    found = _mentions(gaz, "بلغت الصفقة عشرين مليون دولار والحمد لله قال عبد الله النعيمي")
    assert found["دولار"] == ("other", ["دولار"])
    assert found["الله"] == ("other", ["لله"])  # not the الله of عبد الله
    assert found["عبد الله النعيمي"][0] == "person"


def test_a_clitic_does_not_turn_a_word_into_a_place(gaz):
    assert names(gaz, "خسائر بليون دولار") == ["دولار"]  # ب + ليون is not Lyon


def test_given_name_then_father_then_family_name(gaz):
    found = _mentions(gaz, "وصرح أحمد يوسف المناعي بأن الاجتماع ناجح")
    assert found["أحمد يوسف المناعي"] == ("person", ["أحمد يوسف المناعي"])


def test_coordinated_names_are_two_people(gaz):
    found = _mentions(gaz, "وشارك جمال حمزة ومصطفى جعفر في المباراة")
    assert found["جمال حمزة"][0] == "person"
    assert found["مصطفى جعفر"] == ("person", ["مصطفى جعفر"])  # the و stays out


def test_weak_given_names_need_a_second_name(gaz):
    assert "حسن الشامي" in _mentions(gaz, "وقال حسن الشامي إن")
    assert _mentions(gaz, "عبر عن حسن النية") == {}
    assert _mentions(gaz, "قال إن لدينا خطة") == {}  # ل + دينا is "we have"


def test_name_ends_before_verbs_accusatives_and_adjectives(gaz):
    assert "عبد العظيم منصور" in _mentions(gaz, "قدم عبد العظيم منصور برنامجا جديدا")
    found = _mentions(gaz, "وصل محمد سليمان يسمع الأخبار")
    assert "محمد سليمان" in found
    assert _mentions(gaz, "قال الأمين العام للمجلس الثقافي") == {}


def test_known_person_grows_over_given_names_before_it(gaz):
    found = _mentions(gaz, "وقال الرئيس الفرنسي جاك رينيه شيراك إن")
    assert found["جاك شيراك"][1] == ["جاك رينيه شيراك"]


def test_listed_person_found_again_by_surname_in_the_same_text(gaz):
    found = _mentions(gaz, "وأسس جورج حبش الجبهة الشعبية عام 1967. وظل حبش أمينا عاما لها")
    assert found["جورج حبش"] == ("person", ["جورج حبش", "حبش"])
    found = _mentions(gaz, "خرج الحسين بن علي إلى الكوفة ووقف على الباب")
    assert found["الحسين بن علي"][1] == ["الحسين بن علي"]  # على is not "علي" of the name


# Speed structures: the caches and C-level filters must never change what is found ----------


def test_a_name_added_after_a_scan_is_found_with_its_proclitics():
    gaz = load_gazetteer(None).copy()
    text = "وصلت القافلة إلى وبزرنوقة ثم إلى زرنوقة"
    assert names(gaz, text) == []  # the scan fills the matcher's caches
    gaz.add("زرنوقة", "place")
    assert [(n, m.text) for n, m in find_mentions(gaz, text)] == [
        ("زرنوقة", "زرنوقة"),
        ("زرنوقة", "زرنوقة"),
    ]
    gaz.ignore("زرنوقة")
    assert names(gaz, text) == []


def test_extract_with_a_declared_entity_updates_later_scans(gaz):
    local = gaz.copy()
    assert names(local, "قرب زرنوقة") == []  # the scan fills the matcher's caches
    art = read_article("a.md", "---\ntitle: خبر\nentities: [زرنوقة]\n---\nنص\n".encode())
    extract(local, art)
    assert names(local, "قرب زرنوقة ولزرنوقة") == ["زرنوقة", "زرنوقة"]
    assert names(gaz, "قرب زرنوقة") == []  # the copy only


def test_scan_filters_are_supersets_of_the_exact_tests(gaz):
    # Every word that may start a name, be a title or a given name (with any proclitics)
    # passes the set filter that lets the scans skip all other words.
    from sahifa.entities import _GIVEN_ANY, _TITLES_ANY, TITLES, _as, _given

    prefixes = ("", "و", "ف", "ب", "ل", "ك", "لل", "وب", "ول", "فك", "ولل", "فلل", "وال", "بال")
    firsts = list(gaz.matcher.index)[:400] + sorted(TITLES) + ["محمد", "حسن", "علي"]
    words = [p + (w[2:] if p.endswith("لل") else w) for w in firsts for p in prefixes]
    list(gaz.matcher.start_positions(["دمشق"]))  # builds the matcher's filter
    for word in words:
        if gaz.matcher.starts(word):
            assert word in gaz.matcher._maybe, word
        if _as(word, TITLES) is not None:
            assert word in _TITLES_ANY, word
        if _given(word) is not None:
            assert word in _GIVEN_ANY, word


def test_a_word_that_starts_only_longer_names_is_skipped_unless_their_next_word_follows():
    # قوات starts names of two words or more only: a scan tries it where the next word can
    # continue one of them, and nowhere else; every position it drops matches nothing.
    matcher = Matcher()
    matcher.add(("قوات", "سوريا", "الديمقراطيه"), "قوات سوريا الديمقراطية")
    matcher.add(("سوريا",), "سوريا")
    words = token_columns("قوات الأمن ولقوات سوريا الديمقراطية في سوريا قوات")[2]
    positions = matcher.start_positions(words)
    assert [words[i] for i in positions] == ["ولقوات", "سوريا", "سوريا"]
    assert matcher.match_at(words, positions[0]) == ("قوات سوريا الديمقراطية", 3, 2)
    # On real text: the kept positions are exactly those where a name may start.
    text = decode("seed", SEED.read_bytes())
    gaz = load_gazetteer(None)
    words = token_columns(text)[2]
    kept = set(gaz.matcher.start_positions(words))
    assert kept, "the seed names places"
    for i in range(len(words)):
        if i not in kept:
            assert gaz.matcher.match_at(words, i) is None, words[i]


def test_entities_from_shipped_tokens_are_the_same(gaz):
    """The build ships each article's tokens from reading to extraction (pack_columns):
    discovery and extraction then see exactly what they would find splitting the text."""
    from sahifa.model import pack_columns, unpack_columns

    art = read_article(SEED.name, SEED.read_bytes())
    cols = unpack_columns(pack_columns(token_columns(art.text)))
    assert article_candidates(gaz, art, cols) == article_candidates(gaz, art)
    refs = extract(gaz.copy(), art, cols)
    assert refs == extract(gaz.copy(), art) and len(refs) > 3
