"""Speed of entity extraction and related-article linking.

    python bench/entities_speed.py [--related-dir /tmp/c10k] [--repeat 3]

(1) extraction on the 2,500 real ANT articles (../shared/corpus/ant/dev, one core):
    articles/s for `extract` (known names), `analyse` (plus discovery) and
    `article_candidates` (what a build runs per article for discovery);
(2) `relate` on a generated corpus, e.g.
    python3 ../shared/tools/gen_corpus.py --n 10000 --seed 1 --format markdown --out /tmp/c10k
The ANT corpus: A. Chouigui, O. Ben Khiroun, B. Elayeb, "ANT Corpus: An Arabic News Text
Collection for Textual Classification", AICCSA 2017.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from sahifa.entities import (
    analyse,
    article_candidates,
    extract,
    load_gazetteer,
    promote_candidates,
)
from sahifa.readers import read_article
from sahifa.relate import relate
from sahifa.site import newest_first

DEV = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "ant" / "dev"


def read_dir(folder: Path, pattern: str) -> list:
    return [read_article(p.name, p.read_bytes()) for p in sorted(folder.glob(pattern))]


def timed(label: str, n: int, fn, repeat: int = 1) -> object:
    # CPU time of this process: the per-core figure. On a shared machine even CPU time varies
    # (caches, frequency), so the best of `repeat` runs is reported.
    runs = []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        runs.append((time.process_time() - c0, time.perf_counter() - t0))
    cpu, wall = min(runs)
    print(
        f"{label:<30} {n:6d} articles  cpu {cpu:6.2f} s  {n / cpu:6.0f}/s per core  (wall {wall:.2f} s)"
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--related-dir", type=Path, default=Path("/tmp/c10k"))
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = ap.parse_args()
    r = max(1, args.repeat)
    gaz = load_gazetteer(None)
    arts = read_dir(DEV, "*.txt")
    extract(gaz, arts[0])  # warm the clitic cache the way a build would
    timed("extract (known names)", len(arts), lambda: [extract(gaz, a) for a in arts], r)
    timed("analyse (names + discovery)", len(arts), lambda: [analyse(gaz, a.text) for a in arts], r)
    timed("article_candidates", len(arts), lambda: [article_candidates(gaz, a) for a in arts], r)
    timed("promote_candidates", len(arts), lambda: promote_candidates(gaz, arts), r)
    if args.related_dir.is_dir():
        many = read_dir(args.related_dir, "**/*.md")
        full = promote_candidates(gaz, many)
        many = tuple(newest_first([replace(a, entities=extract(full, a)) for a in many]))
        timed("relate", len(many), lambda: relate(many, 5))


if __name__ == "__main__":
    main()
