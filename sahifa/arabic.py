"""Arabic text handling, in one place: normalisation, clitics, direction, digits, dates.

Everything here is plain `str.translate`/`str.replace`: an order of magnitude faster than the
Arabic NLP packages, and names are never run through a general stemmer.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from itertools import accumulate, compress, count, islice, repeat
from operator import add, not_, sub

# Harakat, Quranic marks, superscript alef, tatweel: they change nothing for matching.
_MARKS = (
    "".join(chr(c) for c in range(0x064B, 0x0660))
    + "\u0670\u0640"
    + "".join(chr(c) for c in range(0x06D6, 0x06EE))
)
# Bidi controls and zero-width characters scraped pages are full of.
_INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c\ufeff"

_STRIP = str.maketrans("", "", _MARKS + _INVISIBLE)
_FOLD = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ة": "ه",
        "ؤ": "و",
        "ئ": "ي",
        **{chr(0x0660 + i): str(i) for i in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + i): str(i) for i in range(10)},  # Eastern (Persian) digits
    }
)
_SPACES = re.compile(r"\s+")


def strip_marks(text: str) -> str:
    """Remove harakat, tatweel and invisible bidi/zero-width characters."""
    return text.translate(_STRIP)


def normalize(text: str) -> str:
    """Fold text for matching: marks removed, alef/ya/ta-marbuta/digit variants unified,
    Latin lower-cased, runs of white space collapsed."""
    # `str.translate` with these non-ASCII tables took ~0.26 ms for an article's text (the
    # search index folds every article); a regex for the marks and `_fold_same_length` take
    # ~0.07 ms, with the same result.
    text = unicodedata.normalize("NFC", text)
    if _MARKS_RE.search(text) is not None:
        text = _MARKS_RE.sub("", text)
    return _SPACES.sub(" ", _fold_same_length(text)).strip()


def fold(text: str) -> str:
    """`normalize` for a single token: no NFC, no white-space pass (the caller split on it)."""
    return text.translate(_STRIP).translate(_FOLD).lower()


# A token: letters/digits with their harakat and tatweel. Arabic punctuation (، ؛ ؟) is in the
# Arabic block but is not a word character, so it never glues onto a name. Latin parts may be
# joined by '.', '-' or '&' (U.S, Al-Qaeda, AT&T).
_TOKEN_RE = re.compile(
    r"[^\W_][\w\u064B-\u065F\u0670\u0640\u06D6-\u06ED\u200c-\u200f]*(?:[.\-&][A-Za-z0-9]+)*"
)


_FOLD_PAIRS = [(k if isinstance(k, str) else chr(k), v) for k, v in _FOLD.items()]
_MARKS_RE = re.compile("[" + _MARKS + _INVISIBLE + "]")


def _fold_same_length(text: str) -> str:
    """The one-to-one folds over a whole text. A chain of str.replace runs in C and is many
    times faster than str.translate with a non-ASCII table."""
    for old, new in _FOLD_PAIRS:
        if old in text:
            text = text.replace(old, new)
    return text.lower()


def tokens(text: str) -> list[tuple[int, int, str]]:
    """(start, end, folded token) for every word; start/end index the original `text`."""
    return list(zip(*token_columns(text), strict=True))


# `_TOKEN_RE` with the token captured (its own groups do not capture): `split` then yields
# gap, token, gap, ..., gap, all in C.
_SPLIT_RE = re.compile("(" + _TOKEN_RE.pattern + ")")


def token_columns(text: str) -> tuple[list[int], list[int], list[str]]:
    """`tokens` as three parallel lists: starts, ends, folded tokens.

    The letters are folded over the whole text at once (same length, so offsets hold). One
    regex `split` gives the gaps and the tokens; the offsets are the running sum of their
    lengths; then only the tokens that carry harakat, tatweel or bidi marks are stripped. No
    Python code runs per token: a matcher can then skip most words without touching them.
    """
    folded = _fold_same_length(text)
    if len(folded) != len(text):  # a rare lower-casing that changes length (İ)
        found = [(m.start(), m.end(), fold(m.group())) for m in _TOKEN_RE.finditer(text)]
        return [t[0] for t in found], [t[1] for t in found], [t[2] for t in found]
    cols = _by_spaces(folded)
    if cols is None:
        parts = _SPLIT_RE.split(folded)  # gap, token, gap, token, ..., gap
        offsets = list(accumulate(map(len, parts)))
        cols = offsets[0:-1:2], offsets[1::2], parts[1::2]
    starts, ends, words = cols
    if _MARKS_RE.search(folded) is not None:
        # Marks are few (a shadda, a tatweel): strip the tokens they fall in, and only those.
        # A mark in a gap touches the next token, which stripping then leaves as it was.
        strip = _MARKS_RE.sub
        for k in {bisect_right(ends, m.start()) for m in _MARKS_RE.finditer(folded)}:
            if k < len(words):
                words[k] = strip("", words[k])
    return starts, ends, words


# What may stand before or after a word with no space between (a comma, a full stop, a quote,
# brackets): never a token character (`_TOKEN_RE`), so a word stripped of them is the token.
_EDGE_PUNCT = ".,،:;؛!?؟\"'()[]{}«»<>-–—…/*"


def _by_spaces(folded: str) -> tuple[list[int], list[int], list[str]] | None:
    """`token_columns` of a folded text without the regex, when every gap between words is one
    white-space character (an article's prose): None otherwise. The text is split on white
    space; a chunk of letters and digits only is a token by itself, one with a comma or a
    quote at either end is a token once they are stripped, and only the rest (harakat, U.S,
    a-b) goes through the regex. All in C but for those few: `re` walks a text at ~30 ns a
    character whatever the pattern; this takes ~25 ns a word (~195 -> ~165 us an article)."""
    chunks = folded.split()
    if not chunks:
        return [], [], []
    lead = len(folded) - len(folded.lstrip())
    lengths = list(map(len, chunks))
    ends = list(accumulate(lengths))  # without the gaps, for now
    gaps = len(folded) - lead - ends[-1] - (len(folded) - len(folded.rstrip()))
    if gaps != len(chunks) - 1:
        return None  # a gap of two characters or more somewhere
    # Chunk k starts after k gaps of one character: lead + (letters before it) + k.
    starts = [lead, *map(add, ends[:-1], count(lead + 1))]
    ends = list(map(add, ends, count(lead)))
    words = chunks
    odd = list(compress(count(), map(not_, map(str.isalnum, chunks))))
    if not odd:
        return starts, ends, words
    raw = [chunks[i] for i in odd]
    cores = list(map(str.strip, raw, repeat(_EDGE_PUNCT)))
    skips = map(sub, map(len, raw), map(len, map(str.lstrip, raw, repeat(_EDGE_PUNCT))))
    split_up: list[tuple[int, list[re.Match[str]]]] = []
    for i, chunk, core, skip in zip(odd, raw, cores, skips, strict=True):
        if core.isalnum():
            starts[i] += skip
            ends[i] = starts[i] + len(core)
            words[i] = core
        else:
            split_up.append((i, list(_TOKEN_RE.finditer(chunk))))
    for i, found in reversed(split_up):  # from the end, so the indices before stay right
        base = starts[i]
        starts[i : i + 1] = [base + m.start() for m in found]
        ends[i : i + 1] = [base + m.end() for m in found]
        words[i : i + 1] = [m.group() for m in found]
    return starts, ends, words


def words(text: str) -> list[str]:
    """The folded tokens of a text: `token_columns(text)[2]` without the offsets (what the
    search index counts; ~40 % faster)."""
    folded = _fold_same_length(text)
    if len(folded) != len(text):  # a rare lower-casing that changes length (İ)
        return [fold(m.group()) for m in _TOKEN_RE.finditer(text)]
    found = _TOKEN_RE.findall(folded)
    if _MARKS_RE.search(folded) is not None:  # a mark between tokens touches none
        strip = _MARKS_RE.sub
        return [strip("", w) for w in found]
    return found


def raw_prefix(token: str, folded_chars: int) -> int:
    """How many characters of the original `token` make up its first `folded_chars` folded
    characters (with any harakat on them): the exact offset past a stripped clitic."""
    seen = 0
    for i, ch in enumerate(token):
        if seen == folded_chars and ch not in _STRIP_SET:
            return i
        if ch not in _STRIP_SET:
            seen += 1
    return len(token)


_STRIP_SET = frozenset(_MARKS + _INVISIBLE)


# Proclitics, in the order they attach: conjunction, then preposition, then the article.
CONJUNCTIONS = ("و", "ف")
PREPOSITIONS = ("ب", "ل", "ك")


def clitic_variants(word: str, strip_article: bool = False) -> list[str]:
    """Possible bases of a folded word once its proclitics are removed, longest first.

    `وبالعراق` -> [`بالعراق`, `العراق`]; `للعراق` -> [`العراق`, `لعراق`]; `للبنان` ->
    [`البنان`, `لبنان`]. The article ال stays on by default: names are listed with it
    (العراق), and ال + a name is nearly always an adjective (السورية is "Syrian", not سورية).
    `strip_article=True` also yields the bare forms (`عراق`).
    The caller keeps a variant only when it is a known name and the whole word is not.
    """
    stems = [word]
    if len(word) > 3 and word[0] in CONJUNCTIONS:
        stems.append(word[1:])
    for w in list(stems):
        if len(w) > 3 and w.startswith("لل"):
            stems.append("ال" + w[2:])  # لل = ل + ال with the alef dropped
        if len(w) > 3 and w[0] in PREPOSITIONS:
            stems.append(w[1:])
    if strip_article:
        stems.extend(w[2:] for w in list(stems) if len(w) > 4 and w.startswith("ال"))
    return list(dict.fromkeys(stems[1:]))


# The letters a word with a proclitic starts with (`search_terms` of any other word is the word).
PROCLITIC_STARTS = frozenset("".join(CONJUNCTIONS + PREPOSITIONS) + "ا")


@lru_cache(maxsize=1 << 17)
def search_terms(word: str) -> tuple[str, ...]:
    """The terms the search index files a folded word under: itself and its bases without
    proclitics, the article too (`وبالعراق` -> وبالعراق, بالعراق, العراق, عراق). The search
    page looks a query word up under the same bases, so `عراق`, `العراق` and `بالعراق` all
    find وبالعراق (`search/search.js`, `bases`)."""
    return (word, *clitic_variants(word, strip_article=True))


def query_term(word: str) -> str:
    """The part of a folded query word that the search page also matches as the start of
    longer words (مدرس -> مدرسة): without the article, which readers type or leave out. Not
    its shortest base: كتاب -> تاب would find تابع."""
    return word[2:] if len(word) > 4 and word.startswith("ال") else word


# Direction --------------------------------------------------------------------------------------

_RTL_LANGS = {"ar", "fa", "ur", "he", "yi", "ps", "ckb", "dv", "sd", "ug"}


def lang_direction(lang: str) -> str:
    """'rtl' or 'ltr' for a BCP 47 language tag."""
    return "rtl" if lang.split("-")[0].lower() in _RTL_LANGS else "ltr"


def strong_direction_counts(text: str) -> tuple[int, int]:
    """Counts of strong right-to-left and left-to-right characters."""
    rtl = ltr = 0
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            rtl += 1
        elif kind == "L":
            ltr += 1
    return rtl, ltr


_RTL_CHARS = re.compile(r"[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF]")
LTR_LETTERS = r"[A-Za-z\u00C0-\u024F\u0370-\u03FF\u0400-\u04FF]"  # Latin, Greek, Cyrillic
_LTR_CHARS = re.compile(LTR_LETTERS)


def text_direction(text: str) -> str | None:
    """'ltr' when a block is mostly Latin (more than twice as many Latin letters as Arabic
    ones: it needs its own `dir`), else None."""
    ltr = len(_LTR_CHARS.findall(text))
    if not ltr:
        return None  # most Arabic paragraphs: no need to count their letters
    # Count Arabic letters only until they outnumber half the Latin ones (a long Arabic
    # paragraph with one English name stops after a few letters).
    enough = (ltr + 1) // 2  # rtl >= enough  <=>  not (ltr > 2 * rtl)
    rtl = sum(1 for _ in islice(_RTL_CHARS.finditer(text), enough))
    return "ltr" if rtl < enough else None


# Digits and dates ---------------------------------------------------------------------------------

_TO_ARABIC_INDIC = str.maketrans({str(i): chr(0x0660 + i) for i in range(10)})

MONTHS = {
    "standard": (
        "يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو",
        "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر",
    ),
    "levantine": (
        "كانون الثاني", "شباط", "آذار", "نيسان", "أيار", "حزيران",
        "تموز", "آب", "أيلول", "تشرين الأول", "تشرين الثاني", "كانون الأول",
    ),
    "maghrebi": (
        "جانفي", "فيفري", "مارس", "أفريل", "ماي", "جوان",
        "جويلية", "أوت", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر",
    ),
}  # fmt: skip


def digits(text: str, style: str = "latin") -> str:
    """Write digits in the chosen style: 'latin' (0-9) or 'arabic-indic' (٠-٩)."""
    return text.translate(_TO_ARABIC_INDIC) if style == "arabic-indic" else text


def format_date(value: datetime, months: str = "standard", digit_style: str = "latin") -> str:
    """`4 أكتوبر 2024` (or `4 تشرين الأول 2024`), in the site's month and digit style."""
    names = MONTHS.get(months, MONTHS["standard"])
    return digits(f"{value.day} {names[value.month - 1]} {value.year}", digit_style)


def make_date_formatter(months: str, digit_style: str) -> Callable[[datetime], str]:
    return lambda value: format_date(value, months, digit_style)
