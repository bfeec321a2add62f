"""Precision and recall of entity extraction on ANERcorp (Benajiba et al., 2007).

    python bench/ner_eval.py [--gazetteer-only] [--window 25]

Reads ../shared/corpus/anercorp/train.txt (token TAG lines, BIO, PERS/LOC/ORG/MISC; a blank
line ends a sentence). Sentences are joined with spaces into windows of `--window` sentences
(the corpus has no document marks; a window gives discovery some context), then every mention
is mapped back to the tokens it covers. A clitic left outside a mention (بدير الزور) still
counts as the whole token, as ANERcorp tags whole tokens. Scores: exact span + type, and
exact span with the type ignored. Nothing from the corpus is stored or learnt.
"""

from __future__ import annotations

import argparse
import bisect
import time
from collections import Counter
from pathlib import Path

from sahifa.entities import analyse, load_gazetteer

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "anercorp" / "train.txt"
TYPE_TO_TAG = {"place": "LOC", "person": "PERS", "organisation": "ORG", "other": "MISC"}
Span = tuple[int, int, str]  # first token, last token + 1, tag


def read_sentences(path: Path) -> list[list[tuple[str, str]]]:
    sentences, current = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) < 2:
            if current:
                sentences.append(current)
            current = []
            continue
        current.append((parts[0], parts[-1]))
    if current:
        sentences.append(current)
    return sentences


def gold_spans(tags: list[str]) -> set[Span]:
    spans, start, kind = set(), None, ""
    for i, tag in enumerate([*tags, "O"]):
        if start is not None and not (tag.startswith("I-") and tag[2:] == kind):
            spans.add((start, i, kind))
            start = None
        if tag.startswith("B-") or (tag.startswith("I-") and start is None):
            start, kind = i, tag[2:]
    return spans


def predicted_spans(gaz, words: list[str], candidates: bool) -> set[Span]:
    starts, pos = [], 0
    for w in words:
        starts.append(pos)
        pos += len(w) + 1
    text = " ".join(words)
    spans = set()
    for found in analyse(gaz, text, candidates=candidates):
        for m in found.mentions:
            first = bisect.bisect_right(starts, m.start) - 1
            last = bisect.bisect_right(starts, m.end - 1)
            spans.add((first, last, TYPE_TO_TAG[found.type]))
    return spans


def score(gold: set[Span], pred: set[Span], typed: bool) -> tuple[int, int, int]:
    key = (lambda s: s) if typed else (lambda s: s[:2])
    g, p = Counter(map(key, gold)), Counter(map(key, pred))
    return sum((g & p).values()), sum(p.values()), sum(g.values())


def prf(tp: int, n_pred: int, n_gold: int) -> str:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return f"P {p:.3f}  R {r:.3f}  F1 {f:.3f}  (tp {tp}, predicted {n_pred}, gold {n_gold})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gazetteer-only", action="store_true", help="no discovery")
    ap.add_argument("--window", type=int, default=25)
    args = ap.parse_args()
    gaz = load_gazetteer(None)
    sentences = read_sentences(CORPUS)
    gold, pred = set(), set()
    t0 = time.perf_counter()
    offset = 0
    for w in range(0, len(sentences), args.window):
        words, tags = [], []
        for sent in sentences[w : w + args.window]:
            words += [t for t, _ in sent]
            tags += [g for _, g in sent]
        gold |= {(a + offset, b + offset, k) for a, b, k in gold_spans(tags)}
        pred |= {
            (a + offset, b + offset, k)
            for a, b, k in predicted_spans(gaz, words, not args.gazetteer_only)
        }
        offset += len(words)
    secs = time.perf_counter() - t0
    print(f"ANERcorp train: {offset} tokens, {len(sentences)} sentences, {secs:.1f} s")
    print("type ignored (exact span):", prf(*score(gold, pred, typed=False)))
    print("exact span and type:      ", prf(*score(gold, pred, typed=True)))
    for tag in ("PERS", "LOC", "ORG", "MISC"):
        g = {s for s in gold if s[2] == tag}
        p = {s for s in pred if s[2] == tag}
        print(f"  {tag:<5}", prf(*score(g, p, typed=True)))


if __name__ == "__main__":
    main()
