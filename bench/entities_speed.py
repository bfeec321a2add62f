"""Speed of entity extraction and related-article linking.

    python bench/entities_speed.py [--related-dir /tmp/c10k]

(1) extraction on the 2,500 real ANT articles (../shared/corpus/ant/dev, one core):
    articles/s for `extract` (known names) and for `analyse` (plus discovery);
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

from sahifa.entities import analyse, extract, load_gazetteer, promote_candidates
from sahifa.readers import read_article
from sahifa.relate import relate
from sahifa.site import newest_first

DEV = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "ant" / "dev"


def read_dir(folder: Path, pattern: str) -> list:
    return [read_article(p.name, p.read_bytes()) for p in sorted(folder.glob(pattern))]


def timed(label: str, n: int, fn) -> object:
    # CPU time of this process: the per-core figure, steady even on a busy machine.
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"{label:<30} {n:6d} articles  cpu {cpu:6.2f} s  {n / cpu:6.0f}/s per core  (wall {wall:.2f} s)"
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--related-dir", type=Path, default=Path("/tmp/c10k"))
    args = ap.parse_args()
    gaz = load_gazetteer(None)
    arts = read_dir(DEV, "*.txt")
    extract(gaz, arts[0])  # warm the clitic cache the way a build would
    timed("extract (known names)", len(arts), lambda: [extract(gaz, a) for a in arts])
    timed("analyse (names + discovery)", len(arts), lambda: [analyse(gaz, a.text) for a in arts])
    timed("promote_candidates", len(arts), lambda: promote_candidates(gaz, arts))
    if args.related_dir.is_dir():
        many = read_dir(args.related_dir, "**/*.md")
        full = promote_candidates(gaz, many)
        many = tuple(newest_first([replace(a, entities=extract(full, a)) for a in many]))
        timed("relate", len(many), lambda: relate(many, 5))


if __name__ == "__main__":
    main()
