"""Arabic normalisation, tokens with exact offsets, and proclitic variants."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from sahifa import arabic
from sahifa.arabic import (
    _FOLD,
    _SPACES,
    _STRIP,
    _TOKEN_RE,
    clitic_variants,
    fold,
    normalize,
    raw_prefix,
    token_columns,
    tokens,
    words,
)


def test_normalize_folds_marks_alef_ya_ta_marbuta_and_digits():
    assert normalize("إِسْرائيلُ") == "اسراييل"
    assert normalize("آذار") == normalize("اذار")
    assert normalize("مصطفى") == "مصطفي"
    assert normalize("سورية") == normalize("سوريه")
    assert normalize("٢٠٢٤ و۱۲") == "2024 و12"
    assert normalize("دمـــشق\u200f") == "دمشق"
    assert normalize("  SY24\n  News ") == "sy24 news"


def test_tokens_keep_offsets_into_the_original_text():
    text = "قال: سوريا، ولبنانَ بِدِيرِ الزور"
    for start, end, folded in tokens(text):
        assert normalize(text[start:end]) == folded
    assert [t[2] for t in tokens(text)] == ["قال", "سوريا", "ولبنان", "بدير", "الزور"]


def test_token_columns_strip_marks_only_inside_tokens():
    # Harakat and tatweel inside words, a bidi mark in a gap and at the very end, a word that
    # is only a tatweel, a Latin compound: the same as folding each regex match by itself.
    text = "قالَ \u200fالمتحدثُ:  «ســوريا»\u200f ـ AT&T و U.S. ١٢٣\u200f"
    expected = [(m.start(), m.end(), fold(m.group())) for m in _TOKEN_RE.finditer(text)]
    assert list(zip(*token_columns(text), strict=True)) == expected == tokens(text)
    assert [t[2] for t in expected] == ["قال", "المتحدث", "سوريا", "", "at&t", "و", "u.s", "123"]
    assert token_columns("") == ([], [], [])
    assert tokens("  ،  ") == []


def test_arabic_punctuation_never_sticks_to_a_word():
    assert [t[2] for t in tokens("سوريا؛ لبنان؟ العراق،")] == ["سوريا", "لبنان", "العراق"]


def test_raw_prefix_counts_harakat_with_the_clitic():
    assert raw_prefix("بِدِير", 1) == 2  # the kasra stays with the ب
    assert raw_prefix("بدير", 1) == 1
    assert raw_prefix("وَلِلعراق", 2) == 4


def test_clitic_variants_in_attachment_order():
    assert clitic_variants("وبالعراق") == ["بالعراق", "العراق"]
    assert clitic_variants("للعراق") == ["العراق", "لعراق"]
    assert "لبنان" in clitic_variants("للبنان")
    assert clitic_variants("وواشنطن") == ["واشنطن"]
    assert clitic_variants("والتحالف") == ["التحالف"]


def test_article_is_kept_unless_asked():
    # "السورية" is "Syrian", not سورية: the article never comes off by default.
    assert clitic_variants(normalize("السورية")) == []
    assert "عراق" in clitic_variants("وبالعراق", strip_article=True)


def test_short_words_keep_their_first_letter():
    assert clitic_variants("فتح") == []
    assert clitic_variants("بان") == []


_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهويأإآٱىةؤئ٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹ـًٌٍَُِّْٰ"


@given(
    st.text(
        alphabet=st.sampled_from(_LETTERS + "\u200f\u200c\u202b\ufeff \n\t،.AbİẞΣ1_-"), max_size=80
    )
)
def test_normalize_is_the_same_as_translating_each_character(text):
    # normalize folds with a regex and str.replace (fast on long texts); the definition is
    # one translation table for the marks and one for the letters.
    expected = unicodedata.normalize("NFC", text).translate(_STRIP).translate(_FOLD)
    assert normalize(text) == _SPACES.sub(" ", expected).strip().lower()


@given(
    st.text(
        alphabet=st.sampled_from(_LETTERS + "\u200f\u200c\u202b\ufeff \n\t،.&AbİẞΣ1_-"), max_size=80
    )
)
def test_words_are_the_tokens_without_their_offsets(text):
    # arabic.words (the search index's) skips token_columns' offsets: the same words, always.
    assert words(text) == token_columns(text)[2]


# Single spaces and new lines (so that `token_columns` takes its split-on-spaces path, not
# the regex) around words with punctuation, quotes, brackets, harakat, tatweel, digits,
# underscores, Latin compounds and invisible marks.
_CHUNK_CHARS = _LETTERS + "ًَُِّْـ\u200f\u200c،؛؟.:!()«»\"'-–/&_AbZz019٣İ²"


@given(
    st.lists(st.text(alphabet=st.sampled_from(_CHUNK_CHARS), min_size=1, max_size=8), max_size=30),
    st.lists(st.sampled_from([" ", "\n", "\t", "\xa0", "\u2028"]), min_size=30, max_size=30),
    st.sampled_from(["", " ", "\n  "]),
)
def test_token_columns_split_on_spaces_equal_the_regex_path(chunks, gaps, edge):
    """`token_columns` splits a text whose gaps are single spaces on white space, and runs
    the token regex over the folded text otherwise: both give the same columns."""
    text = edge + "".join(c + g for c, g in zip(chunks, gaps, strict=False)).rstrip() + edge
    fast = token_columns(text)
    assert arabic._by_spaces(arabic._fold_same_length(text)) is not None or not text.strip()
    with_regex = arabic._by_spaces
    try:
        arabic._by_spaces = lambda folded: None
        assert token_columns(text) == fast
    finally:
        arabic._by_spaces = with_regex


def test_token_columns_use_the_regex_when_gaps_are_wider():
    assert arabic._by_spaces("قال  الوزير") is None  # two spaces: offsets are not running sums
    assert token_columns("قال  الوزير،  نعم") == ([0, 5, 14], [3, 11, 17], ["قال", "الوزير", "نعم"])
