"""Find places, people and organisations in Arabic text.

A gazetteer (built-in TOML, plus the site's `content/entities.toml`, plus each article's
front matter) is matched token by token on folded text, longest match first, with proclitics
(و ف ب ل ك ال لل) removed only when that turns an unknown word into a known name.

The built-in list is `data/gazetteer.toml` then `data/gazetteer_news.toml`; given names for
discovery are in `data/given_names.toml`. Mentions follow the span conventions of Arabic NER
annotation (ANERcorp): a generic head noun or title is left out ("قطاع [غزة]", "حركة [حماس]",
"الملك [عبد الله الثاني]"), a treaty's name is not a place (اتفاق الطائف), the name of God and
currencies are "other".

Names the list does not know are *discovered* as candidates (see `discover_in_tokens`): short
quoted names, Latin names and acronyms, people introduced by a title, and people written with a
listed given name (up to name, father's name, family name). In one text, a person's surname
alone is then found again, for discovered and for listed people. A candidate becomes an
entity when the editors list it in entities.toml or when it recurs in at least
`PROMOTE_MIN_ARTICLES` articles (`promote_candidates`, called once per build).
"""

from __future__ import annotations

import bisect
import functools
import re
import string
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from itertools import compress, count
from pathlib import Path

from .arabic import clitic_variants, normalize, raw_prefix, token_columns, tokens
from .errors import ContentError
from .model import Article, Columns, Entity, EntityRef, Mention
from .urls import slugify

TYPES = ("place", "person", "organisation", "other")
# The built-in lists, read in this order (a later one may add aliases to an earlier name).
BUILTIN_LISTS = ("gazetteer.toml", "gazetteer_news.toml")
PROMOTE_MIN_ARTICLES = 2

# Single words that are never an entity on their own, even if a list names them: the
# countryside, an island inside a village name, a monastery, "the state".
STOP_WORDS = {
    normalize(w)
    for w in (
        "الريف", "جزيرة", "الجزيرة", "المنطقة", "المدينة", "الدولة", "دير", "الشرقية",
        "الغربية", "الشمالية", "الجنوبية", "الوسطى", "الساحل", "البلد", "العاصمة", "الحكومة",
        "الرئاسة", "الجيش", "المجلس", "البرلمان", "الأمن", "الشرطة", "المعارضة", "النظام",
        "التحالف", "الاتحاد", "الجامعة", "المحكمة", "الوزارة", "المركز",
        "الأمل", "النور", "فتح", "أمل", "الوفاق", "الوطن", "الاستقلال", "المستقبل", "التغيير",
    )
}  # fmt: skip

Seq = tuple[str, ...]


# How a word may start a name, for one indexed first token it can stand for: (first token,
# folded clitic length, the one-word name or None, the second words of the longer names,
# their lengths longest first, {sequence: name}).
_Plan = tuple[str, int, str | None, frozenset[str], tuple[int, ...], dict[Seq, str]]


@dataclass
class Matcher:
    """Token sequences by folded first token; each list is longest first."""

    index: dict[str, list[tuple[Seq, str]]] = field(default_factory=dict)
    singles: set[str] = field(default_factory=set)  # words that are a whole name by themselves
    # word -> its plans (see `_Plan`), () when it starts nothing. Only words of `_maybe`.
    _plans: dict[str, tuple[_Plan, ...]] = field(default_factory=dict)
    # word -> the words that must follow it for any name to start there, or None when a
    # one-word name may (filled with `_plans`). قوات starts only longer names: in the
    # synthetic corpus 88 % of the words that may start a name start none, most of them
    # like قوات, and are dropped by one set lookup instead of a `match_at` call.
    _gates: dict[str, frozenset[str] | None] = field(default_factory=dict)
    # first token -> (one-word name, second words, lengths > 1, {sequence: name}): a lookup per
    # length instead of a scan of every name that starts with a common word (مدينة, قوات ...),
    # and most words that start a long name (علي, مدينة) are followed by none of its second
    # words: then only the one-word name can match.
    _by_first: dict[str, tuple[str | None, frozenset[str], tuple[int, ...], dict[Seq, str]]] = (
        field(default_factory=dict)
    )
    # Every way an indexed first token can be written with proclitics: a superset of the words
    # that may start a name, so a scan drops all other words with one set operation.
    _maybe: set[str] | None = None

    def add(self, seq: Seq, name: str) -> None:
        entries = self.index.setdefault(seq[0], [])
        if (seq, name) not in entries:
            entries.append((seq, name))
            entries.sort(key=lambda e: (-len(e[0]), e[1]))
        if len(seq) == 1:
            self.singles.add(seq[0])
        self._changed(seq[0])

    def remove(self, seq: Seq) -> None:
        entries = self.index.get(seq[0], [])
        entries[:] = [e for e in entries if e[0] != seq]
        self._changed(seq[0])

    def _changed(self, first: str) -> None:
        """Forget what depended on `first`: only the words that can stand for it (its
        proclitic forms, itself included) may start differently now."""
        self._by_first.pop(first, None)
        if self._maybe is None:
            return  # no scan yet, so no plans either (a gazetteer being loaded)
        forms = _proclitic_forms(first)
        self._maybe.update(forms)
        for word in forms:
            self._plans.pop(word, None)
            self._gates.pop(word, None)

    def starts(self, word: str) -> tuple[tuple[str, int], ...]:
        """Indexed first tokens `word` can stand for, with the folded clitic length."""
        found = [(word, 0)] if word in self.index else []
        # A clitic comes off only when the whole word is not itself a name (لبنان, بغداد).
        if word not in self.singles:
            found += [(v, _clitic_length(word, v)) for v in _variants(word) if v in self.index]
        return tuple(found)

    def _plan(self, word: str) -> tuple[_Plan, ...]:
        hit = self._plans.get(word)
        if hit is None:
            hit = tuple((first, skip, *self._names(first)) for first, skip in self.starts(word))
            if self._maybe is not None and word in self._maybe:
                self._plans[word] = hit  # kept to the words of `_maybe`: a bounded cache
                singles = any(plan[2] is not None for plan in hit)
                self._gates[word] = None if singles else frozenset().union(*(p[3] for p in hit))
        return hit

    def _names(
        self, first: str
    ) -> tuple[str | None, frozenset[str], tuple[int, ...], dict[Seq, str]]:
        hit = self._by_first.get(first)
        if hit is None:
            names: dict[Seq, str] = {}
            for seq, name in self.index[first]:  # longest first, then by name: first one wins
                names.setdefault(seq, name)
            longer = tuple(sorted({len(seq) for seq in names if len(seq) > 1}, reverse=True))
            seconds = frozenset(seq[1] for seq in names if len(seq) > 1)
            hit = self._by_first[first] = (names.get((first,)), seconds, longer, names)
        return hit

    def start_positions(self, words: list[str]) -> list[int]:
        """Indices of the words that may start a name, in order. Set operations and `map`
        run in C: no Python code runs for the (many) words that start nothing; of the words
        that may, those whose next word starts none of their names are dropped (`_gates`)."""
        maybe = self._maybe
        if maybe is None:
            maybe = self._maybe = set()
            for first in self.index:
                maybe.update(_proclitic_forms(first))
        plans, gates = self._plans, self._gates
        for word in maybe.intersection(words).difference(plans):
            self._plan(word)
        last = len(words) - 1
        return [
            i
            for i in compress(count(), map(plans.get, words))  # () and None (not in maybe)
            if (gate := gates[words[i]]) is None or (i < last and words[i + 1] in gate)
        ]

    def match_at(self, words: list[str], i: int) -> tuple[str, int, int] | None:
        """(name, token count, folded clitic length) of the longest name starting at word i."""
        total = len(words)
        plans = self._plans.get(words[i])  # the scan filled it for every word of `_maybe`
        if plans is None:
            plans = self._plan(words[i])
        for first, skip, single, seconds, longer, names in plans:
            if longer and i + 1 < total and words[i + 1] in seconds:
                for n in longer:
                    if i + n <= total:
                        name = names.get((first, *words[i + 1 : i + n]))
                        if name is not None:
                            return name, n, skip
            if single is not None:
                return single, 1, skip
        return None

    def copy(self) -> Matcher:
        return Matcher({k: list(v) for k, v in self.index.items()}, set(self.singles))


def _surname_safe(cand: Candidate) -> bool:
    """Whether the last word alone may stand for this candidate later in the same text: a
    person whose first word is a known given name, or a Latin name (Marco Bellini)."""
    return (cand.type == "person" and cand.seq[0] in FIRST_NAMES) or cand.seq[0].isascii()


def _clitic_length(word: str, base: str) -> int:
    """Folded characters of `word` before `base`. In للعراق the second ل is the article's
    (ل + العراق, alef dropped), so only the first ل is clitic: the mention is لعراق."""
    if word.endswith(base):
        return len(word) - len(base)
    return len(word) - len(base) + 1


@functools.lru_cache(maxsize=65536)  # pure, and the same mentions recur (_people)
def surface_tokens(surface: str) -> Seq:
    return tuple(t for _, _, t in tokens(normalize(surface)))


def _spellings(seq: Seq) -> tuple[Seq, ...]:
    """`seq`, plus the other common spelling of a عبد name: عبد الله <-> عبدالله."""
    for k, word in enumerate(seq):
        if word == "عبد" and k + 1 < len(seq):
            return seq, (*seq[:k], word + seq[k + 1], *seq[k + 2 :])
        if word.startswith("عبد") and len(word) > 5:
            return seq, (*seq[:k], "عبد", word[3:], *seq[k + 1 :])
    return (seq,)


@dataclass
class Gazetteer:
    """Known names: canonical name -> Entity, plus the matcher over all their surfaces."""

    entities: dict[str, Entity] = field(default_factory=dict)
    matcher: Matcher = field(default_factory=Matcher)
    ignored: set[Seq] = field(default_factory=set)

    def add(self, name: str, type_: str, aliases: Iterable[str] = ()) -> None:
        if type_ not in TYPES:
            type_ = "other"
        old = self.entities.get(name)
        all_aliases = tuple(dict.fromkeys([*(old.aliases if old else ()), *aliases]))
        self.entities[name] = Entity(name, type_, slugify(name) or slugify(name, True), all_aliases)
        for surface in (name, *all_aliases):
            for seq in _spellings(surface_tokens(surface)):
                if not seq or seq in self.ignored or (len(seq) == 1 and seq[0] in STOP_WORDS):
                    continue
                self.matcher.add(seq, name)

    def ignore(self, surface: str) -> None:
        """Editors' rejection: this surface is never an entity nor a candidate."""
        seq = surface_tokens(surface)
        if seq:
            self.ignored.add(seq)
            self.matcher.remove(seq)
            # An empty name blocks the phrase: its words cannot start a shorter match either.
            self.matcher.add(seq, "")

    def copy(self) -> Gazetteer:
        return Gazetteer(dict(self.entities), self.matcher.copy(), set(self.ignored))


def load_gazetteer(site_file: Path | None = None) -> Gazetteer:
    """The built-in list, then the site's `entities.toml` over it."""
    gaz = Gazetteer()
    for part in BUILTIN_LISTS:
        builtin = resources.files("sahifa").joinpath(f"data/{part}").read_text("utf-8")
        _load_into(gaz, tomllib.loads(builtin))
    if site_file is not None and site_file.exists():
        try:
            data = tomllib.loads(site_file.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ContentError(str(site_file), f"not valid TOML: {exc}") from None
        _load_into(gaz, data)
    return gaz


def _load_into(gaz: Gazetteer, data: dict) -> None:
    """`[place]`/`[person]`/... tables of name = [aliases]; `ignore = [...]` rejects names."""
    ignore = data.get("ignore", [])
    for surface in ignore if isinstance(ignore, list) else []:
        gaz.ignore(str(surface))
    for type_, names in data.items():
        if not isinstance(names, dict):
            continue
        for name, aliases in names.items():
            gaz.add(name, type_, aliases if isinstance(aliases, list) else [])


# Matching ------------------------------------------------------------------------------------


def _scan(
    matcher: Matcher, text: str, starts: list[int], ends: list[int], words: list[str]
) -> list[tuple[str, Mention, int, int]]:
    """(name, mention, first token, token count) for every match, left to right. The tokens
    come as columns (`token_columns`); `words` may hold a stand-in for a masked-out token."""
    found = []
    match_at = matcher.match_at
    resume = 0  # the first word after the last match: a match never starts inside another
    for i in matcher.start_positions(words):
        if i < resume:
            continue
        match = match_at(words, i)
        if match is None:
            continue
        name, length, skip = match
        if not name or (i and words[i - 1] in _AGREEMENTS_ANY):
            resume = i + length  # an ignored phrase, or a treaty's name (اتفاق الطائف): skip it
            continue
        if name == GOD and i and _in_compound_name(text, starts, ends, words, i):
            continue  # عبد الله, نصر الله: part of a person's name, left to discovery
        start, first = starts[i], i
        if length > 1 and words[i] in _HEADS_ANY:
            # قطاع غزة, حركة حماس, مدينة الصدر, الملك محمد السادس: the name is what follows,
            # and only that name (جمهورية الصين الشعبية -> الصين).
            inner = matcher.match_at(words, i + 1)
            if inner is not None and inner[0] and inner[2] == 0:
                name, length, first = inner[0], inner[1], i + 1
                start = starts[first]
            elif length == 2:
                start, first, length = starts[i + 1], i + 1, 1
        elif skip:
            start += raw_prefix(text[start : ends[i]], skip)
        end = ends[first + length - 1]
        found.append((name, Mention(text[start:end], start, end), first, length))
        resume = first + length
    return found


def _in_compound_name(
    text: str, starts: list[int], ends: list[int], words: list[str], i: int
) -> bool:
    """Token i (الله) ends a compound given name with the word before it."""
    prev = words[i - 1]
    gap = text[ends[i - 1] : starts[i]]  # adjacent: only white space, no new line
    return (not gap.strip() and "\n" not in gap) and (
        prev in _NAME_LINKS or prev in FIRST_NAMES or prev in WEAK_NAMES or prev in _GOD_COMPOUNDS
    )


def find_mentions(
    gaz: Gazetteer, text: str, cols: Columns | None = None
) -> list[tuple[str, Mention]]:
    """All (canonical name, mention) pairs in `text`, left to right, longest match first.
    `cols`: the text's `token_columns`, when the caller has them already."""
    cols = token_columns(text) if cols is None else cols
    return [(name, m) for name, m, _, _ in _scan(gaz.matcher, text, *cols)]


@dataclass(frozen=True)
class Found:
    """One name in one text: known (`known=True`) or a discovered candidate."""

    name: str
    type: str
    mentions: tuple[Mention, ...]
    known: bool = True


def analyse(
    gaz: Gazetteer, text: str, candidates: bool = True, cols: Columns | None = None
) -> list[Found]:
    """Every known entity and (optionally) every discovered candidate in `text`, by first
    mention. Candidates' later mentions (the same words again) are found too. `cols`: the
    text's `token_columns`, when the caller has them already."""
    starts, ends, words = token_columns(text) if cols is None else cols
    toks = list(zip(starts, ends, words, strict=True))
    known = _scan(gaz.matcher, text, starts, ends, words)
    taken = [False] * len(toks)
    for _, _, i, n in known:
        taken[i : i + n] = [True] * n
    groups: dict[str, list[Mention]] = defaultdict(list)
    types: dict[str, str] = {}
    for name, mention, i, _ in known:
        types[name] = gaz.entities[name].type
        if types[name] == "person":
            mention, j = _with_given_names(text, toks, taken, mention, i)
            taken[j:i] = [True] * (i - j)
        groups[name].append(mention)
    found_known = set(groups)
    if candidates:
        cols = (starts, ends, words)
        for cand in _candidates(gaz, text, toks, cols, taken, _people(gaz, known)):
            if cand.name not in types:
                types[cand.name] = cand.type
            groups[cand.name].extend(cand.mentions)
    out = [
        Found(name, types[name], tuple(sorted(ms, key=lambda m: m.start)), name in found_known)
        for name, ms in groups.items()
    ]
    return sorted(out, key=lambda f: f.mentions[0].start)


def _people(gaz: Gazetteer, known: list[tuple[str, Mention, int, int]]) -> dict[str, str]:
    """Surname -> known person, for the people this text names with two words or more."""
    out = {}
    for name, m, _, n in known:
        seq = surface_tokens(m.text)
        if n < 2 or len(seq) < 2 or gaz.entities[name].type != "person":
            continue
        last = seq[-1]
        # Not "الثاني" of عبد الله الثاني, "ثاني" of آل ثاني, "علي" of الحسن بن علي.
        if seq[-2] in _NAME_LINKS or last in ADJECTIVES or last in FIRST_NAMES:
            continue
        if last not in WEAK_NAMES:
            out[last] = name
    return out


def _with_given_names(
    text: str, toks: list[tuple[int, int, str]], taken: list[bool], mention: Mention, i: int
) -> tuple[Mention, int]:
    """A known person's mention grown leftwards over the given names and بن links written
    before it: "خوسيه لويس [ثاباتيرو]", "حمدان بن [محمد بن راشد]" are one name each."""
    j = i
    while j > 0 and not taken[j - 1] and _adjacent(text, toks, j):
        prev = toks[j - 1][2]
        if prev in FUNCTION_WORDS:
            break
        if prev in FIRST_NAMES or prev in WEAK_NAMES:
            j -= 1
        elif prev in _SON_OF and j > 1 and _name_word(text, toks, taken, j - 2, True):
            j -= 2
        else:
            break
    if j == i:
        return mention, i
    start = toks[j][0]
    return Mention(text[start : mention.end], start, mention.end), j


def _candidates(
    gaz: Gazetteer,
    text: str,
    toks: list[tuple[int, int, str]],
    cols: tuple[list[int], list[int], list[str]],
    taken: list[bool],
    people: dict[str, str] | None = None,
) -> list[Candidate]:
    """Discovered names with all their mentions in this text (outside known mentions), and
    the later surname-only mentions of `people` (surname -> known person named in full).
    `cols` are the same tokens as `toks`, as columns (`token_columns`)."""
    starts, ends, words = cols
    found = discover_in_tokens(text, toks, taken, words, starts)
    cands = [c for c in found if c.seq not in gaz.ignored]
    if not cands and not people:
        return []
    local = Matcher()
    by_name: dict[str, Candidate] = {}
    surnames = {c.seq[-1]: c.name for c in cands if len(c.seq) > 1 and _surname_safe(c)}
    surnames.update(people or {})
    for cand in cands:
        if len(cand.seq) == 1 and cand.seq[0] in surnames:
            continue  # "Bellini" after "Marco Bellini": the same person
        local.add(cand.seq, cand.name)
        by_name.setdefault(cand.name, cand)
    for last, name in surnames.items():
        # Later mentions by surname alone, in this text only (the article's own context).
        # Not an ال word: "العالم", "الدين" alone are nouns far more often than surnames.
        if (
            len(last) > 2
            and not last.startswith("ال")
            and last not in FUNCTION_WORDS
            and last not in gaz.matcher.index
        ):
            local.add((last,), name)
            by_name.setdefault(name, Candidate(name, "person", (last,)))
    free = list(words)
    for i in compress(count(), taken):  # the few known tokens, masked out
        free[i] = "\0"
    mentions: dict[str, list[Mention]] = defaultdict(list)
    for name, mention, _, n in _scan(local, text, starts, ends, free):
        if n == 1 and not mentions[name] and len(by_name[name].seq) > 1:
            continue  # a surname before its person's full name is someone (or something) else
        mentions[name].append(mention)
    return [
        Candidate(n, c.type, c.seq, tuple(mentions[n])) for n, c in by_name.items() if mentions[n]
    ]


# Discovery ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    name: str  # the surface as first written, clitics excluded
    type: str
    seq: Seq  # folded tokens, the identity of the candidate
    mentions: tuple[Mention, ...] = ()


def _fold_set(words: str) -> frozenset[str]:
    return frozenset(normalize(w) for w in words.split())


# Words that introduce a person: "الناشط السياسي يوسف الشامي", "وزير الخارجية ...".
TITLES = _fold_set("""
    الرئيس رئيس الرئيسة رئيسة الوزير وزير الوزيرة وزيرة الملك الملكة العاهل الأمير أمير الأميرة
    ولي الشيخ الشيخة السيد السيدة الناشط الناشطة الصحفي الصحفية الصحافي الصحافية الكاتب الكاتبة
    المحلل المحللة الخبير الخبيرة الباحث الباحثة الدكتور الدكتورة الجنرال اللواء العميد العقيد
    المقدم الرائد النقيب الفريق المشير القائد قائد الزعيم زعيم المتحدث المتحدثة الناطق الناطقة
    النائب النائبة نائب السفير السفيرة المبعوث المبعوثة الأمين المستشار المستشارة المدير المديرة
    مدير مديرة المدرب مدرب اللاعب لاعب النجم نجم الفنان الفنانة المطرب المطربة الممثل الممثلة
    المخرج الشاعر الشاعرة الروائي الروائية البابا المرشد القاضي المحامي المحامية المعارض
    المعارضة الإعلامي الإعلامية المذيع المذيعة الداعية المرشح المرشحة الحاكم حاكم المحافظ محافظ
    السيناتور المفوض المدعي الإمام المهندس البروفيسور الأستاذ الأستاذة الحارس المهاجم المدافع
    الطبيب الطبيبة المغني المغنية الراحل الراحلة المواطن المواطنة الشاب الشابة الطفل الطفلة
    المعتقل المعتقلة الأسير الأسيرة القيادي القيادية العضو عضو مؤسس المؤسس الدبلوماسي
    سعادة معالي سمو فضيلة جلالة فخامة السلطان الصحابي الخليفة الفيلسوف المفكر
""")
# Generic head nouns and titles that a mention leaves out, as Arabic NER annotation does
# (ANERcorp): the name in "قطاع غزة" is غزة, in "حركة حماس" حماس, in "الملك عبد الله
# الثاني" عبد الله الثاني. The canonical name keeps its listed form.
HEADS = (
    _fold_set("""
    قطاع دولة جمهورية مملكة سلطنة إمارة إقليم ولاية محافظة مدينة بلدة قرية مخيم حي منطقة قضاء
    ناحية معبر مزارع قاعدة بلاد نهر جزيرة جزر بحيرة مطار ميناء شارع ساحة مسجد كنيسة مستشفى
    سجن ملعب استاد فندق حركة وكالة صحيفة جريدة مجلة قناة تلفزيون إذاعة شركة نادي النادي فريق
    منتخب جائزة
""")
    | TITLES
)


@functools.lru_cache(maxsize=4096)  # each article's candidate names get a matcher of their own
def _proclitic_forms(word: str) -> tuple[str, ...]:
    """`word` as it may be written with proclitics: every word whose `clitic_variants` can
    give `word` (their length limits aside), and `word` itself."""
    forms = [word, "ب" + word, "ل" + word, "ك" + word]
    if word.startswith("ال"):
        forms.append("لل" + word[2:])  # لل = ل + ال, alef dropped
    return tuple(conj + form for conj in ("", "و", "ف") for form in forms)


def _with_proclitics(words: frozenset[str]) -> frozenset[str]:
    """`words` as they may be written with proclitics (وقطاع, بحركة, للملك), so the scanner
    tests a token with one set lookup instead of a call per match."""
    return frozenset(form for w in words for form in _proclitic_forms(w))


_HEADS_ANY = _with_proclitics(HEADS)
# Skipped between a title and the name: "وزير خارجية قطر", "المتحدث باسم الحكومة".
_TITLE_LINKS = _fold_set("""
    باسم لشؤون وزراء حكومة جمهورية مجلس وزارة حركة حزب جيش منظمة إدارة هيئة لجنة قوات خارجية
    داخلية دفاع مالية بلدية شرطة نادي منتخب فريق أركان عام سابق الأسبق العام السابق
""")
# Never part of a name: particles, pronouns, time words, the commonest speech verbs.
FUNCTION_WORDS = _fold_set("""
    في من على إلى عن أن إن مع ما لا لم لن قد هو هي هم هن هذا هذه ذلك تلك التي الذي الذين
    كان كانت يكون تكون بعد قبل خلال حول عند أمس اليوم غدا يوم منذ حتى أو أم ثم بين لدى ضد
    عبر نحو وفق إثر أمام بأن لأن كما إذ إذا لقد وقد فقد كل بعض غير دون لكن بل أي ليس هناك هنا
    قال قالت أكد أكدت أعلن أعلنت أضاف أضافت أوضح أوضحت أشار أشارت ذكر ذكرت دعا دعت طالب
    يقول تقول يرى ترى قوله تصريح تصريحات بيان حيث عام مساء صباح ظهر الأحد الاثنين الثلاثاء
    الأربعاء الخميس الجمعة السبت الماضي المقبل الحالي الجاري ان اول أول آخر ثاني جديد جديدة
    يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر له لها لهم
    به بها بهم فيه فيها عليه عليها منه منها إليه عنه كذلك أيضا وهو وهي انه أنه إنه بأنه
    يجب يمكن سوف سيتم تم يتم زيارة لقاء اجتماع مؤتمر رسالة كلمة يعني سموه معاليه فخامته
    كرة لكرة نحن انا أنا انت أنت
    فيهم منهم عليهم لديهم عندهم بينهم إليهم معهم لهم بهم عنهم فيما بينما كلما عدة نفسه نفسها
    أنفسهم ابنه ابنها إبنه زوجته زوجها والده والدته شقيقه شقيقها بأول أولا ثانيا جدا فقط
    إلا ماذا لماذا كيف متى أين وأين توجد يوجد لمدة عقب سوى أكثر أقل مثل نفس ذات
""")
# Nationality adjectives qualify a title ("مدرب إيطالي") and are never a name.
NATIONALITIES = frozenset(
    w + end
    for w in _fold_set("""
        مصري سوري عراقي لبناني أردني فلسطيني سعودي إماراتي قطري كويتي بحريني عماني يمني ليبي
        تونسي جزائري مغربي سوداني موريتاني إيراني تركي إسرائيلي أمريكي أميركي روسي صيني فرنسي
        بريطاني ألماني إيطالي إسباني ياباني هندي باكستاني أفغاني كردي عربي أوروبي أجنبي برازيلي
        أرجنتيني هولندي بلجيكي سويسري سويدي نرويجي دنماركي يوناني برتغالي كوري كندي أسترالي
        نيجيري إثيوبي صومالي أوكراني بولندي نمساوي مكسيكي إندونيسي ماليزي سنغالي كاميروني غاني
        إريتري تشادي مالي لبيي خليجي إفريقي أفريقي آسيوي دولي محلي سابق أسبق
    """)
    for end in ("", "ه")
)
# Given names (sahifa/data/given_names.toml). `FIRST_NAMES` are not also everyday words: one
# followed by a name word is a person. `WEAK_NAMES` are (حسن "good", أمل "hope", علي = على once
# folded): they start a name only before another given name or a nisba surname.
_GIVEN = tomllib.loads(
    resources.files("sahifa").joinpath("data/given_names.toml").read_text("utf-8")
)
FIRST_NAMES = _fold_set(_GIVEN["strong"])
WEAK_NAMES = _fold_set(_GIVEN["weak"]) - FIRST_NAMES
# Proclitic + article: a word so written (بالرغم, للمجلس, والتعاون) is a noun phrase.
_CLITIC_ARTICLE = ("وال", "فال", "بال", "كال", "لل")
# Relational adjectives of the ال…ي shape that are not family names.
ADJECTIVES = _fold_set("""
    الدولي الوطني الأصلي الثقافي الرسمي السابق الحالي العربي الإسلامي الأمني السياسي العسكري
    الاقتصادي الاجتماعي الرئيسي الأساسي الشخصي الحقيقي الإقليمي المحلي الخارجي الداخلي الفني
    الإداري الرياضي التاريخي الإعلامي الطبي القانوني الشرعي العلمي التنفيذي الحكومي الشعبي
    الديمقراطي الجمهوري الثوري الإنساني الأوروبي الغربي الشرقي الشمالي الجنوبي الأعلى الأدنى
    الماضي الأول الثاني الثالث الرابع الخامس السادس السابع الثامن التاسع العاشر الحادي النهائي
    الذهبي الفضي البرونزي الملكي الأميري الوزاري النيابي البرلماني الانتخابي الدستوري
    المالي التجاري الصناعي الزراعي النفطي الجوي البحري البري النووي الذري الإلكتروني
    الثنائي الجماعي الفردي الكلي الجزئي الأولي الختامي الافتتاحي التحضيري التأهيلي الودي
    الدوري الأسبوعي اليومي الشهري السنوي الموسمي الإضافي الأخلاقي الديني المدني الجامعي
    الفخري التخصصي المركزي المدرسي الصحفي الصحافي الفكري الأدبي الشعري الموسيقي السينمائي
    المسرحي التلفزيوني الإذاعي العالمي القومي الفلسطيني الكردي الشيعي السني العلوي الدرزي المسيحي اليهودي
""")
# Particles that bind the next word into the same name: محمد بن سلمان, عبد الله, أبو بكر.
_NAME_LINKS = _fold_set("بن ابن بنت ولد أبو أبي أم عبد آل")
_NAME_TAILS = _fold_set("الدين الله الرحمن الرحيم")
_SON_OF = _fold_set("بن ابن بنت")
# The name of God is a name (MISC in Arabic NER schemes) except inside a compound given name:
# عبد الله, نصر الله, فضل الله, جاب الله, عطا الله, خير الله ...
GOD = "الله"
_GOD_COMPOUNDS = _fold_set("فضل جاب عطا خير ضيف حسب نعمة فتح رزق جار عوض هبة سيف روح حرز")
# Nouns that make the next name the name of a treaty, not a mention of the place (اتفاق الطائف).
_AGREEMENTS = _fold_set("اتفاق اتفاقية معاهدة اتفاقات اتفاقيات")
_AGREEMENTS_ANY = _with_proclitics(_AGREEMENTS)
# The noun before a quoted name says what it names: قاعدة “كونيكو”, موقع “صدى الشرقية”.
CUES = {
    **dict.fromkeys(
        _fold_set("""
        قاعدة حقل مدينة بلدة قرية مطار معبر نهر حي مخيم جبل سد ميناء مرفأ منطقة ناحية قضاء
        محافظة ولاية إقليم شارع ساحة جزيرة بحيرة وادي سجن مستشفى فندق ملعب مدرسة جامعة سهل
    """),
        "place",
    ),
    **dict.fromkeys(
        _fold_set("""
        موقع وكالة صحيفة جريدة مجلة قناة شبكة إذاعة تلفزيون منصة حركة حزب جماعة منظمة شركة
        تنظيم جمعية مجموعة فصيل لواء كتائب كتيبة ائتلاف تحالف تجمع جبهة هيئة مؤسسة مركز مرصد
        بنك مصرف نادي فرقة اتحاد مجلس صفحة حساب
    """),
        "organisation",
    ),
    **dict.fromkeys(
        _fold_set("""
        عملية حملة مبادرة مشروع مهرجان معرض فيلم كتاب رواية مسلسل برنامج اتفاق اتفاقية خطة
        قانون مؤتمر منتدى جائزة مسابقة بطولة كأس أغنية ألبوم تطبيق
    """),
        "other",
    ),
}
_LATIN_STOP = _fold_set(
    "facebook whatsapp telegram twitter instagram youtube email linkedin messenger print share "
    "copy link the a an in of on and to for by read more video photo live breaking id gps tv "
    "pdf sms usb ok ceo dna covid"
)
_QUOTE = re.compile(r'[“«„"]\s*([^“”«»"\n]{1,60}?)\s*[”»"“]')
_SENTENCE_PUNCT = tuple(".،,:;؛!?؟…")
_TANWEEN = re.compile("[\u064b-\u064d]")


def _as(word: str, words: frozenset[str] | dict[str, str]) -> str | None:
    """`word` or its clitic-stripped base, if it is in `words`."""
    if word in words:
        return word
    for v in _variants(word):
        if v in words:
            return v
    return None


# Supersets for filters that run in C: every word `_as(word, TITLES)` or `_given(word)` can
# accept is in these (the exact test then runs on those words only).
_TITLES_ANY = _with_proclitics(TITLES)
_GIVEN_ANY = frozenset(form for w in FIRST_NAMES | WEAK_NAMES for form in (w, "و" + w, "ف" + w))
_ASCII_UPPER = frozenset(string.ascii_uppercase)
_ASCII_UPPER_RE = re.compile("[A-Z]")


@functools.lru_cache(maxsize=65536)
def _variants(word: str) -> tuple[str, ...]:
    return tuple(clitic_variants(word))


def _adjacent(text: str, toks: list[tuple[int, int, str]], j: int) -> bool:
    """Token j follows token j-1 with only white space between them (no comma, no quote)."""
    gap = text[toks[j - 1][1] : toks[j][0]]
    return not gap.strip() and "\n" not in gap


def discover_in_tokens(
    text: str,
    toks: list[tuple[int, int, str]],
    taken: list[bool],
    words: list[str] | None = None,
    starts: list[int] | None = None,
) -> list[Candidate]:
    """Names that are not in the list, from their shape and context; `taken` marks tokens
    already inside a known mention. `words` and `starts`, when given, are the columns of
    `toks` (folded tokens, start offsets), so they are not built again."""
    if words is None:
        words = [t[2] for t in toks]
    if starts is None:
        starts = [t[0] for t in toks]
    found = _quoted(text, toks, starts, taken) + _latin(text, toks, starts, taken)
    found += _titled(text, toks, words, taken) + _given_named(text, toks, words, taken)
    best: dict[Seq, Candidate] = {}
    for cand in found:  # one candidate per name; a specific type beats 'other'
        old = best.get(cand.seq)
        if old is None or (old.type == "other" and cand.type != "other"):
            best[cand.seq] = cand if old is None else Candidate(old.name, cand.type, old.seq)
    return list(best.values())


def _make(
    text: str, toks: list[tuple[int, int, str]], i: int, j: int, type_: str, first: str = ""
) -> Candidate:
    """A candidate from tokens i..j-1; `first`, when given, is token i without its proclitic
    (ومصطفى -> مصطفى), and the clitic is left out of the name."""
    start, word = toks[i][0], toks[i][2]
    if first and first != word:
        start += raw_prefix(text[start : toks[i][1]], _clitic_length(word, first))
    seq = (first or word, *(t[2] for t in toks[i + 1 : j]))
    return Candidate(text[start : toks[j - 1][1]], type_, seq)


def _quoted(
    text: str, toks: list[tuple[int, int, str]], starts: list[int], taken: list[bool]
) -> list[Candidate]:
    out = []
    for m in _QUOTE.finditer(text):
        i, j = bisect.bisect_left(starts, m.start(1)), bisect.bisect_left(starts, m.end(1))
        if not 0 < j - i <= 4 or any(taken[i:j]) or m.group(1).endswith(_SENTENCE_PUNCT):
            continue
        words = [t[2] for t in toks[i:j]]
        if _as(words[0], FUNCTION_WORDS) or _as(words[-1], FUNCTION_WORDS) or words[0].isdigit():
            continue
        if _TANWEEN.search(m.group(1)):
            continue  # «مكسبًا معنويًا»: case endings mark a phrase, never a name
        cue = CUES.get(_as(toks[i - 1][2], CUES) or "", "") if i else ""
        if not cue and j - i == 1 and _is_acronym(text[toks[i][0] : toks[i][1]]):
            cue = "organisation"
        if cue:  # without a kind noun before it a quote is speech or emphasis, not a name
            out.append(_make(text, toks, i, j, cue))
    return out


def _is_acronym(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return len(letters) >= 2 and word.isascii() and all(c.isupper() for c in letters)


def _latin(
    text: str, toks: list[tuple[int, int, str]], starts: list[int], taken: list[bool]
) -> list[Candidate]:
    """Runs of capitalised Latin words (Reuters, Human Rights Watch) and acronyms (SY24)."""
    out: list[Candidate] = []
    if _ASCII_UPPER_RE.search(text) is None:
        return out
    resume = 0  # past the last run: a run is never started inside another
    # Only the tokens whose first character is A-Z are looked at (a filter in C).
    initials = map(text.__getitem__, starts)
    for i in compress(count(), map(_ASCII_UPPER.__contains__, initials)):
        if i < resume or taken[i] or not _is_latin_name(text, toks[i]):
            continue
        j = i + 1
        while (
            j < len(toks)
            and j - i < 5
            and _is_latin_name(text, toks[j])
            and _adjacent(text, toks, j)
        ):
            j += 1
        words = [t[2] for t in toks[i:j]]
        if not all(w in _LATIN_STOP for w in words) and _latin_context(text, toks, i, j):
            acronym = j - i == 1 and _is_acronym(text[toks[i][0] : toks[i][1]])
            out.append(_make(text, toks, i, j, "organisation" if acronym else "other"))
        resume = j
    return out


def _latin_context(text: str, toks: list[tuple[int, int, str]], i: int, j: int) -> bool:
    """A Latin run is a name in Arabic prose, not inside an English sentence: it must be an
    acronym, or stand between non-Latin words."""
    if j - i == 1 and _is_acronym(text[toks[i][0] : toks[i][1]]):
        return True
    before = i == 0 or not toks[i - 1][2].isascii() or toks[i - 1][2].isdigit()
    after = j == len(toks) or not toks[j][2].isascii() or toks[j][2].isdigit()
    return before and after


def _is_latin_name(text: str, tok: tuple[int, int, str]) -> bool:
    first = text[tok[0]]
    return first.isascii() and first.isupper() and tok[2].isascii()


def _titled(
    text: str, toks: list[tuple[int, int, str]], words: list[str], taken: list[bool]
) -> list[Candidate]:
    """People introduced by a title: title, its qualifiers (ال… words, باسم, known places),
    then two or three name words not starting with ال."""
    out = []
    # Only the words that can be a title with its proclitics are looked at (a filter in C).
    for i in compress(count(), map(_TITLES_ANY.__contains__, words)):
        if taken[i] or _as(words[i], TITLES) is None:
            continue
        j = i + 1
        while (
            j < len(toks)
            and j - i <= 5
            and _adjacent(text, toks, j)
            and _qualifies(toks[j][2], taken[j])
        ):
            j += 1
        end = _name_end(text, toks, taken, j)
        if end - j >= 2 and _looks_personal(toks[j][2], toks[end - 1][2]):
            out.append(_make(text, toks, j, end, "person"))
    return out


def _looks_personal(first: str, last: str) -> bool:
    """A known given name, or a nisba surname (الشامي): noun phrases after a title
    ("خط وسط", "اتصالا هاتفيا") have neither."""
    return first in FIRST_NAMES or first in WEAK_NAMES or _nisba(last)


def _nisba(word: str) -> bool:
    """A family name of the ال…ي shape (الشامي, الجنيبي), not a common relational adjective
    (الدولي, الثقافي) nor a nationality (الإيراني)."""
    return (
        word.startswith("ال")
        and word.endswith("ي")
        and len(word) > 4
        and word not in ADJECTIVES
        and word[2:] not in NATIONALITIES
    )


def _given(word: str) -> str | None:
    """`word`, or `word` without a leading و/ف, if it is a listed given name (strong or
    weak). Not ب/ل/ك: لدينا is "we have", not ل + دينا."""
    for w in (word, word[1:] if len(word) > 3 and word[0] in "وف" else ""):
        if w in FIRST_NAMES or w in WEAK_NAMES:
            return w
    return None


def _given_named(
    text: str, toks: list[tuple[int, int, str]], words: list[str], taken: list[bool]
) -> list[Candidate]:
    """People with no title: a listed given name then one to three name words. A weak given
    name (حسن, أمل) needs another given name or a nisba surname after it."""
    out = []
    for i in compress(count(), map(_GIVEN_ANY.__contains__, words)):  # `_given` may hold
        word = words[i]
        if taken[i]:
            continue
        base = _given(word)
        if base is None or (base == word and i and _inside_name(text, toks, i)):
            continue
        end = _name_end(text, toks, taken, i)
        if end - i < 2 or (end - i == 2 and _common_al(toks[i + 1][2])):
            continue
        if base not in FIRST_NAMES and not (
            _given(toks[i + 1][2]) == toks[i + 1][2] or _nisba(toks[end - 1][2])
        ):
            continue
        out.append(_make(text, toks, i, end, "person", base))
    return out


def _common_al(word: str) -> bool:
    """An ال word that is not of the nisba shape: after a bare given name it is far more often
    a noun (راوول الهدف, إسماعيل الإبن) than a family name."""
    return word.startswith("ال") and not _nisba(word)


def _inside_name(text: str, toks: list[tuple[int, int, str]], i: int) -> bool:
    """Token i follows a given name directly (محمد [علي]): it is not the start of a name."""
    prev = toks[i - 1][2]
    return _adjacent(text, toks, i) and (prev in FIRST_NAMES or prev in WEAK_NAMES)


def _qualifies(word: str, taken: bool) -> bool:
    if taken:
        return True
    return (
        (word.startswith("ال") and word not in FUNCTION_WORDS)
        or word in _TITLE_LINKS
        or word in NATIONALITIES
    )


def _name_end(text: str, toks: list[tuple[int, int, str]], taken: list[bool], j: int) -> int:
    """End (exclusive) of the person name starting at token j, or j when there is none."""
    k = j
    while k < len(toks) and k - j < 6 and _name_word(text, toks, taken, k, k == j):
        last = toks[k][2]
        k += 1
        # A name goes on after a link (بن, عبد), before a tail (الدين) and after a second
        # given name: "محمد جلال عبد القوي", "أحمد يوسف الجفيري" (name, father's name, family).
        bound = (
            last in _NAME_LINKS
            or last in _NAME_TAILS
            or (k < len(toks) and toks[k][2] in _NAME_TAILS)
            or (k - j == 2 and toks[j][2] in _NAME_LINKS)  # عبد العاطي إيكيدير
            or (k - j >= 2 and _chain(toks, k, last))
        )
        if k - j >= 2 and not bound:
            break
    if k > j and toks[k - 1][2] in _NAME_LINKS:
        k -= 1  # a dangling "أبو" is not part of the name
    return k


def _chain(toks: list[tuple[int, int, str]], k: int, last: str) -> bool:
    """After a second given name the name goes on when the next word is a given name, a link
    or an ال family name: "عباس محمود العقاد", "محمد جلال عبد القوي", not "... نشر"."""
    if k >= len(toks):
        return False
    nxt = toks[k][2]
    if _nisba(nxt):
        return True  # "محمد مقلد المريخي"
    if not (last in FIRST_NAMES or last in WEAK_NAMES):
        return False
    family = nxt.startswith("ال") and nxt not in ADJECTIVES and nxt[2:] not in NATIONALITIES
    return nxt in FIRST_NAMES or nxt in WEAK_NAMES or nxt in _NAME_LINKS or family


def _name_word(
    text: str, toks: list[tuple[int, int, str]], taken: list[bool], k: int, first: bool
) -> bool:
    word = toks[k][2]
    if taken[k] or word in FUNCTION_WORDS or word in NATIONALITIES or word in CUES or len(word) < 2:
        return False
    if not _adjacent(text, toks, k) or word.isascii() or _as(word, TITLES):
        return False
    if _TANWEEN.search(text[toks[k][0] : toks[k][1]]) or (len(word) >= 6 and word.endswith("يه")):
        return False  # tanween fath (مكسبًا) and -iyya adjectives (ابتدائية) are not names
    if word.startswith(_CLITIC_ARTICLE) or word in ADJECTIVES:
        return False  # للمجلس, بالرغم, والتعاون; الدولي: never inside a person's name
    if not first and _not_a_later_name(word, toks[k - 1][2]):
        return False
    return not (first and word.startswith("ال")) and _as(word, FUNCTION_WORDS) is None


def _not_a_later_name(word: str, prev: str) -> bool:
    """Shapes that end a name rather than continue it (after its first word)."""
    if _given(word) is not None:
        return word != _given(word)  # "جمال حمزة ومصطفى": و starts the next name
    if len(word) >= 5 and word[-1] == "ا" and word[-2] not in "يو":
        return True  # accusative nouns (برنامجا, مستشارا) written without their tanween
    if len(word) <= 4 and word[0] in "يت":
        return True  # a short verb (يسمع, تلد, تعهد), not a family name
    return word[0] == "و" and prev not in _NAME_LINKS  # a verb or noun after و (وإخراج)


# Articles --------------------------------------------------------------------------------------


def extract(gaz: Gazetteer, article: Article, cols: Columns | None = None) -> tuple[EntityRef, ...]:
    """The article's entities with counts and prominence (title, first paragraph). `cols`:
    the `token_columns` of its text, when the caller has them already."""
    title_end = len(article.title)
    lead_end = title_end + 1 + len(article.text[title_end + 1 :].split("\n", 2)[0])
    counts: dict[str, list[int]] = {}
    for name, mention in find_mentions(gaz, article.text, cols):
        stats = counts.setdefault(name, [0, 0, 0])
        stats[0] += 1
        stats[1] |= mention.start < title_end
        stats[2] |= mention.start < lead_end + 200
    for name in article.declared_entities:
        canonical = _canonical(gaz, name)
        if canonical not in gaz.entities:
            gaz.add(canonical, "other")
        stats = counts.setdefault(canonical, [0, 0, 0])
        stats[0] = max(stats[0], 1)
        stats[2] = 1  # the editor named it: treat it as prominent
    return tuple(
        EntityRef(name, gaz.entities[name].type, c, bool(t), bool(lead))
        for name, (c, t, lead) in sorted(counts.items())
    )


def _canonical(gaz: Gazetteer, name: str) -> str:
    found = find_mentions(gaz, name)
    if len(found) == 1 and found[0][1].text.strip() == name.strip():
        return found[0][0]
    return name.strip()


def candidate_counts(
    gaz: Gazetteer, articles: Iterable[Article]
) -> dict[str, tuple[str, int, int]]:
    """Discovered name -> (type, articles it is in, mentions), over the whole site.

    A name discovered once (“كونيكو” in quotes) counts in every article that writes it, even
    without the quotes or title that revealed it (وحقل كونيكو).
    """
    arts = list(articles)
    types: dict[str, Counter[str]] = defaultdict(Counter)
    local = Matcher()
    for art in arts:
        for f in analyse(gaz, art.text):
            if not f.known:
                types[f.name][f.type] += 1
                local.add(surface_tokens(f.name), f.name)
    n_articles: Counter[str] = Counter()
    n_mentions: Counter[str] = Counter()
    for art in arts:
        text = art.text
        cols = token_columns(text)
        taken = {i + k for _, _, i, n in _scan(gaz.matcher, text, *cols) for k in range(n)}
        seen = [name for name, _, i, _ in _scan(local, text, *cols) if i not in taken]
        n_mentions.update(seen)
        n_articles.update(set(seen))
    return {name: (_best_type(types[name]), n_articles[name], n_mentions[name]) for name in types}


def _best_type(votes: Counter[str]) -> str:
    """The most voted specific type; 'other' only when nothing else was seen."""
    specific = [(c, t) for t, c in votes.items() if t != "other"]
    return max(specific)[1] if specific else "other"


def article_candidates(
    gaz: Gazetteer, article: Article, cols: Columns | None = None
) -> tuple[tuple[str, str], ...]:
    """(name, type) of every name discovered in one article that `gaz` does not know.
    Depends on the article and the gazetteer only, so a build can cache it per article.
    `cols`: the `token_columns` of its text, when the caller has them already."""
    found = analyse(gaz, article.text, cols=cols)
    return tuple(sorted({(f.name, f.type) for f in found if not f.known}))


def promote_discovered(
    gaz: Gazetteer,
    per_article: Iterable[tuple[tuple[str, str], ...]],
    min_articles: int = PROMOTE_MIN_ARTICLES,
) -> Gazetteer:
    """A copy of `gaz` plus every name discovered in at least `min_articles` articles."""
    types: dict[str, Counter[str]] = defaultdict(Counter)
    seen: Counter[str] = Counter()
    for found in per_article:
        for name, type_ in found:
            types[name][type_] += 1
        seen.update({name for name, _ in found})
    counts = {name: (_best_type(types[name]), seen[name], seen[name]) for name in types}
    return promote(gaz, counts, min_articles)


def promote_candidates(
    gaz: Gazetteer, articles: Iterable[Article], min_articles: int = PROMOTE_MIN_ARTICLES
) -> Gazetteer:
    """A copy of `gaz` plus every candidate discovered in at least `min_articles` articles.

    The site-wide half of discovery: `extract` sees one article, recurrence needs them all.
    """
    per_article = (article_candidates(gaz, art) for art in articles)
    return promote_discovered(gaz, per_article, min_articles)


def promote(
    gaz: Gazetteer,
    counts: dict[str, tuple[str, int, int]],
    min_articles: int = PROMOTE_MIN_ARTICLES,
) -> Gazetteer:
    """A copy of `gaz` plus the counted candidates seen in at least `min_articles` articles."""
    out = gaz.copy()
    for name, (type_, n, _) in sorted(counts.items()):
        if n >= min_articles:
            out.add(name, type_)
    return out
