"""Find places, people and organisations in Arabic text.

A gazetteer (built-in TOML, plus the site's `content/entities.toml`, plus each article's
front matter) is matched token by token on normalised text, longest match first, with
proclitics (و ف ب ل ك ال لل) removed only when that turns an unknown word into a known name.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .arabic import clitic_variants, normalize
from .errors import ContentError
from .model import Article, Entity, EntityRef, Mention
from .urls import slugify

TYPES = ("place", "person", "organisation", "other")
_TOKEN = re.compile(r"[\w\u0600-\u06FF\u0750-\u077F]+(?:[.\-][\w\u0600-\u06FF]+)*")

# Words that are never an entity on their own, even if a list names them.
STOP_WORDS = {normalize(w) for w in ("الريف", "جزيرة", "المنطقة", "المدينة", "الدولة", "دير")}


@dataclass
class Gazetteer:
    """Known names. `index` maps a normalised first token to (token tuple, canonical) pairs."""

    entities: dict[str, Entity] = field(default_factory=dict)
    index: dict[str, list[tuple[tuple[str, ...], str]]] = field(default_factory=dict)
    first_tokens: set[str] = field(default_factory=set)

    def add(self, name: str, type_: str, aliases: Iterable[str] = ()) -> None:
        if type_ not in TYPES:
            type_ = "other"
        old = self.entities.get(name)
        all_aliases = tuple(dict.fromkeys([*(old.aliases if old else ()), *aliases]))
        self.entities[name] = Entity(name, type_, slugify(name) or slugify(name, True), all_aliases)
        for surface in (name, *all_aliases):
            tokens = tuple(normalize(t) for t in _TOKEN.findall(surface))
            if not tokens or (len(tokens) == 1 and tokens[0] in STOP_WORDS):
                continue
            entries = self.index.setdefault(tokens[0], [])
            if (tokens, name) not in entries:
                entries.append((tokens, name))
                entries.sort(key=lambda e: (-len(e[0]), e[1]))
            self.first_tokens.add(tokens[0])


def load_gazetteer(site_file: Path | None = None) -> Gazetteer:
    """The built-in list, then the site's `entities.toml` over it."""
    gaz = Gazetteer()
    builtin = resources.files("sahifa").joinpath("data/gazetteer.toml").read_text("utf-8")
    _load_into(gaz, tomllib.loads(builtin))
    if site_file is not None and site_file.exists():
        try:
            data = tomllib.loads(site_file.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ContentError(str(site_file), f"not valid TOML: {exc}") from None
        _load_into(gaz, data)
    return gaz


def _load_into(gaz: Gazetteer, data: dict) -> None:
    for type_, names in data.items():
        if not isinstance(names, dict):
            continue
        for name, aliases in names.items():
            gaz.add(name, type_, aliases if isinstance(aliases, list) else [])


def find_mentions(gaz: Gazetteer, text: str) -> list[tuple[str, Mention]]:
    """All (canonical name, mention) pairs in `text`, left to right, longest match first."""
    tokens = [(m.start(), m.end(), normalize(m.group())) for m in _TOKEN.finditer(text)]
    found: list[tuple[str, Mention]] = []
    i = 0
    while i < len(tokens):
        match = _match_at(gaz, tokens, i)
        if match is None:
            i += 1
            continue
        name, length, skip = match
        start, end = tokens[i][0] + skip, tokens[i + length - 1][1]
        found.append((name, Mention(text[start:end], start, end)))
        i += length
    return found


def _match_at(
    gaz: Gazetteer, tokens: list[tuple[int, int, str]], i: int
) -> tuple[str, int, int] | None:
    """(canonical, token count, characters of clitic skipped) for the longest match at i."""
    word = tokens[i][2]
    candidates = [(word, 0)] if word in gaz.first_tokens else []
    for variant in clitic_variants(word):
        if variant in gaz.first_tokens and not candidates:
            candidates.append((variant, len(word) - len(variant)))
    for first, skip in candidates:
        for seq, name in gaz.index[first]:
            n = len(seq)
            if i + n > len(tokens):
                continue
            if all(tokens[i + k][2] == seq[k] for k in range(1, n)):
                return name, n, skip
    return None


def extract(gaz: Gazetteer, article: Article) -> tuple[EntityRef, ...]:
    """The article's entities with counts and prominence (title, first paragraph)."""
    title_end = len(article.title)
    lead_end = title_end + 1 + len(article.text[title_end + 1 :].split("\n", 2)[0])
    counts: dict[str, list[int]] = {}
    for name, mention in find_mentions(gaz, article.text):
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
