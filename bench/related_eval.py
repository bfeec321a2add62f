"""Quality of related-article links on the ANT corpus: the share of links whose target has
the same `category` (the outlet's section) in manifest.csv, against two baselines.

    python bench/related_eval.py [--show 20]

- sahifa: `relate` (IDF, prominence, time decay, common entities skipped, section fallback);
- newest in same section: the fallback alone;
- plain shared-entity counting: most shared entities, ties newest first.
Sections are NOT given to `relate` (every article gets the same section) so the score
measures the entity signal, not the fallback. Dates come from the manifest.
ANT corpus: A. Chouigui, O. Ben Khiroun, B. Elayeb, "ANT Corpus: An Arabic News Text
Collection for Textual Classification", AICCSA 2017.
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sahifa.entities import extract, load_gazetteer, promote_candidates
from sahifa.readers import read_article
from sahifa.relate import relate
from sahifa.site import newest_first

ANT = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "ant"
COUNT = 5


def load() -> tuple[tuple, dict[str, str]]:
    rows = list(csv.DictReader((ANT / "manifest.csv").open(encoding="utf-8")))
    category = {Path(r["file"]).name: r["category"] for r in rows}
    arts = []
    for r in rows:
        path = ANT / r["file"]
        art = read_article(path.name, path.read_bytes())
        date = datetime.fromisoformat(r["date"])
        date = date if date.tzinfo else date.replace(tzinfo=UTC)
        arts.append(replace(art, section="news", date=date))
    gaz = promote_candidates(load_gazetteer(None), arts)
    arts = [replace(a, entities=extract(gaz, a)) for a in arts]
    return tuple(newest_first(arts)), category


def newest_same_section(arts: tuple, category: dict[str, str]) -> dict[str, list[str]]:
    by_cat: dict[str, list[str]] = {}
    for a in arts:  # newest first
        by_cat.setdefault(category[a.source], []).append(a.source)
    return {
        a.source: [s for s in by_cat[category[a.source]] if s != a.source][:COUNT] for a in arts
    }


def plain_counting(arts: tuple) -> dict[str, list[str]]:
    postings: dict[str, list[int]] = {}
    for i, a in enumerate(arts):
        for ref in a.entities:
            postings.setdefault(ref.name, []).append(i)
    out = {}
    for i, a in enumerate(arts):
        shared: Counter[int] = Counter()
        for ref in a.entities:
            shared.update(j for j in postings[ref.name] if j != i)
        best = sorted(shared.items(), key=lambda kv: (-kv[1], kv[0]))[:COUNT]
        out[a.source] = [arts[j].source for j, _ in best]
    return out


def share(links: dict[str, list[str]], category: dict[str, str]) -> str:
    pairs = [(s, t) for s, targets in links.items() for t in targets]
    same = sum(category[s] == category[t] for s, t in pairs)
    return f"{same / len(pairs):.3f} same category ({same}/{len(pairs)} links)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--show", type=int, default=0, help="print N articles' links to inspect")
    args = ap.parse_args()
    arts, category = load()
    related = relate(arts, COUNT)
    ours = {s: [r.article.source for r in rel] for s, rel in related.items()}
    with_entities = {s: [r.article.source for r in rel if r.shared] for s, rel in related.items()}
    print("sahifa relate:          ", share(ours, category))
    print("  entity links only:    ", share(with_entities, category))
    print("plain shared counting:  ", share(plain_counting(arts), category))
    print("newest in same section: ", share(newest_same_section(arts, category), category))
    titles = {a.source: a.title for a in arts}
    for a in arts[: args.show * 100 : 100]:
        print(f"\n[{category[a.source]}] {a.title}")
        for r in related[a.source]:
            print(
                f"   -> [{category[r.article.source]}] {titles[r.article.source]}  {'، '.join(r.shared)}"
            )


if __name__ == "__main__":
    main()
