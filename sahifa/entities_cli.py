"""`python build.py entities`: what the entity finder sees, for the site or for given files.

Without files: every entity of the site (after candidates are promoted) and every candidate
still waiting, with their type and how many articles and mentions. With files: for each file,
its entities and candidates with exact character offsets into the file's decoded text.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from .arabic import normalize
from .config import Config
from .entities import Gazetteer, analyse, candidate_counts, extract, load_gazetteer, promote
from .errors import ContentError
from .readers import RELATED_MARKERS, SHARE_WORDS, decode, split_front_matter


def entities_command(config: Config, files: list[Path], as_json: bool) -> int:
    gaz = load_gazetteer(config.content_dir / "entities.toml")
    if files:
        report = [file_entities(gaz, path) for path in files]
        if as_json:
            _dump(report)
        else:
            _print_files(report)
        return 0
    site = site_entities(gaz, config)
    if as_json:
        _dump(site)
    else:
        _print_site(site)
    return 0


def _dump(data: object) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


# One file ---------------------------------------------------------------------------------------


def analysable_text(text: str) -> str:
    """`text` with everything that is not article prose blanked out, same length, so offsets
    into it are offsets into the file: front matter, share-button lines, "related" tails."""
    _, body, _ = split_front_matter("", text)
    out = [" " * (len(text) - len(body))]
    lines = body.split("\n")
    for n, line in enumerate(lines):
        key = normalize(line)
        if n and key.rstrip(":") in RELATED_MARKERS:
            out.append("\n".join(" " * len(rest) for rest in lines[n:]))
            break
        out.append(
            (" " * len(line) if key in SHARE_WORDS else line) + ("\n" if n < len(lines) - 1 else "")
        )
    return "".join(out)


def file_entities(gaz: Gazetteer, path: Path) -> dict:
    """{"file", "entities": [{"name", "type", "mentions": [{"text", "start", "end"}]}]}."""
    text = decode(str(path), path.read_bytes())
    try:
        found = analyse(gaz, analysable_text(text))
    except ContentError:
        found = analyse(gaz, text)
    return {
        "file": str(path),
        "entities": [
            {
                "name": f.name,
                "type": f.type,
                "mentions": [{"text": m.text, "start": m.start, "end": m.end} for m in f.mentions],
            }
            for f in found
        ],
    }


def _print_files(report: list[dict]) -> None:
    for item in report:
        print(item["file"])
        for ent in item["entities"]:
            print(f"  {ent['name']}\t{ent['type']}\t{len(ent['mentions'])}")


# The whole site ---------------------------------------------------------------------------------


def site_entities(gaz: Gazetteer, config: Config) -> dict:
    """{"entities": [...], "candidates": [...]}, each {"name", "type", "articles", "mentions"}."""
    from .files import discover
    from .pipeline import publishable, read_all

    articles, _ = read_all(config, discover(config.content_dir), keep_going=True)
    articles = publishable(articles, config, datetime.now(UTC))
    counts = candidate_counts(gaz, articles)
    full = promote(gaz, counts)
    totals: dict[str, list[int]] = {}
    for art in articles:
        for ref in extract(full, art):
            row = totals.setdefault(ref.name, [0, 0])
            row[0] += 1
            row[1] += ref.count
    entities = [_row(n, full.entities[n].type, a, m) for n, (a, m) in totals.items()]
    waiting = [_row(n, t, a, m) for n, (t, a, m) in counts.items() if n not in full.entities]
    return {"entities": _ranked(entities), "candidates": _ranked(waiting)}


def _row(name: str, type_: str, articles: int, mentions: int) -> dict:
    return {"name": name, "type": type_, "articles": articles, "mentions": mentions}


def _ranked(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: (-r["articles"], -r["mentions"], r["name"]))


def _print_site(site: dict) -> None:
    for title, key in (
        ("Entities", "entities"),
        ("Candidates (one article; accept in entities.toml)", "candidates"),
    ):
        print(f"{title}: {len(site[key])}")
        for r in site[key]:
            print(f"  {r['articles']:5d} {r['mentions']:6d}  {r['type']:<12} {r['name']}")
