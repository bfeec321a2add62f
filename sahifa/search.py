"""Site search: Sahifa's own static index, made from the Site and searched in the browser.

The index is plain JSON files next to the search page; `search/search.js` fetches only the
parts a query needs. Why not Pagefind (used until stop 22): it re-indexed a 625-article
bundle in ~1.3 s, so an edit with search took 2.15 s at 10,000 articles against a 1 s goal;
it numbered pages in the order the file system lists a folder, so the same site gave other
bytes on another file system; and each of its bundles scored pages with its own statistics.

What is indexed: every word of an article's text (title included, which counts three times)
folded with `arabic.fold`, under each of its `arabic.search_terms` (the word and its bases
without proclitics: والإمارات -> والامارات, الامارات, امارات). The page folds a query the
same way and looks each word up with `arabic.query_term` (the article off), exactly and as a
prefix (at half weight), so `الإمارات`, `الامارات` and `بالإمارات` all find `الإمارات`,
and `مدرس` finds `مدرسة`. Results are ranked by BM25 over the whole site, then newest first.

Layout. The articles are split into shards by source path (`shards`, `model.shard_of`: up
to 16, at least 500 articles each on average) so that an edit re-indexes one shard. A shard
is a folder `search/index-NN/` of:

    meta.json      {"format", "docs", "words", "sections", "sec", "len", "day", "chunks"}:
                   per article (in date order) its section number, length in words and day
                   (days since 1970, 0 without a date; each as the difference from the day
                   before); "chunks" is [[first term, last term, file name], ...] in term order
    c/<hash>.json  {term: [article, weight, article, weight, ...], ...}: a run of terms in
                   order, ~16 KB, each article number as the difference from the one before
                   (a word in every article costs a digit an article, not four); named by
                   its bytes, so a reader's cache never mixes builds
    f/<n>.json     article n's url, title, section, date (ISO, and as the cards show it) and
                   summary: what a result shows

The files come back as (path, bytes) pairs like every other output file, so they are written
into the build's temporary folder and swapped in with the rest of the site: `site/` is never
half-indexed. The same articles give the same bytes on any machine. `SAHIFA_SEARCH=0` in
the environment skips indexing (the test suite does this except where a test needs it).
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date
from functools import partial
from operator import sub
from typing import Any

import lz4.block

from .arabic import PROCLITIC_STARTS, format_date, search_terms, words
from .config import Config, search_enabled
from .model import Article, Site, shard_of
from .publish import FileGroup, article_stamp, digest

FORMAT = 2  # of the index files: in every shard's key, so a new format remakes them all
FOLDER = "search"
TITLE_WEIGHT = 3  # a word of the title counts as this many of the body
CHUNK_BYTES = 16_000  # a chunk file ends after the term that takes it past this size


def record(article: Article, config: Config, terms: bytes | None = None) -> dict[str, Any]:
    """What the index keeps of one article: `article` with its text, or without it and its
    `pack_terms` (what the build cache holds of an article read while search was on)."""
    shown = {
        "url": config.base_path + article.path.lstrip("/"),
        "title": article.title,
        "section": article.section,
        "date": article.date.date().isoformat() if article.date else "",
        # as the site's cards show it (an ISO date in an Arabic line reads back to front)
        "when": format_date(article.date, config.months, config.digits) if article.date else "",
        "summary": article.summary,
    }
    if terms is not None:
        return {**shown, "terms": terms}
    return {**shown, "text": article.text}


def term_weights(
    text: str, title: str, found: list[str] | None = None
) -> tuple[dict[str, int], int]:
    """(term -> weight, length in words) of one article: each word's count (a title word's
    times TITLE_WEIGHT; the text holds the title once) added to each of its terms. `found`:
    the text's `words`, when the caller has split it already (`arabic.token_columns`)."""
    found = words(text) if found is None else found
    counts = Counter(found)
    if title and TITLE_WEIGHT > 1:
        counts.update(words(title) * (TITLE_WEIGHT - 1))
    counts.pop("", None)  # a "word" of tatweel alone folds to nothing
    weights = dict(counts)  # every word is its own first term
    get = weights.get
    for word in [w for w in counts if w[:1] in PROCLITIC_STARTS and len(w) > 3]:
        count = counts[word]
        for term in search_terms(word)[1:]:
            weights[term] = get(term, 0) + count
    return weights, len(found)


def pack_terms(weights: dict[str, int], length: int) -> bytes:
    """An article's `term_weights`, packed for the build cache (~4 KB a synthetic article):
    what lets an edit re-index its shard without splitting the other ~600 articles' text
    again (~0.35 ms each against ~0.03 ms to unpack). One LZ4 block of the length and the
    term count, the weights as 32-bit numbers, then the terms as UTF-8 lines (a term is a
    word: it holds no new line); unpacked with one split instead of a pickle's object per
    term (a shard of 6,250 articles: 0.23 against 0.40 s)."""
    counts = array("I", weights.values())
    if sys.byteorder != "little":
        counts.byteswap()
    head = struct.pack("<II", length, len(counts))
    return lz4.block.compress(head + counts.tobytes() + "\n".join(weights).encode("utf-8"))


def unpack_terms(blob: bytes) -> tuple[int, list[str], list[int]]:
    """(length in words, terms, their weights) from a `pack_terms` blob."""
    raw = lz4.block.decompress(blob)
    length, n = struct.unpack_from("<II", raw)
    counts = array("I", raw[8 : 8 + 4 * n])
    if sys.byteorder != "little":
        counts.byteswap()
    terms = raw[8 + 4 * n :].decode("utf-8").split("\n") if n else []
    return length, terms, counts.tolist()


def article_terms(article: Article, found: list[str] | None = None) -> bytes:
    """`pack_terms` of an article with its text (`found`: its `words`, if split already)."""
    return pack_terms(*term_weights(article.text, article.title, found))


def _weights(rec: dict[str, Any]) -> tuple[int, list[str], list[int]]:
    """(length, terms, weights) of a `record`, unpacked or counted from its text."""
    if "terms" in rec:
        return unpack_terms(rec["terms"])
    weights, length = term_weights(rec["text"], rec["title"])
    return length, list(weights), list(weights.values())


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _day(iso: str) -> int:
    """Days since 1970-01-01 of an ISO date, 0 for none (what the page sorts ties by)."""
    if not iso:
        return 0
    return date.fromisoformat(iso).toordinal() - date(1970, 1, 1).toordinal()


def _utf16(term: str) -> bytes:
    """The order JavaScript compares strings in (UTF-16 code units), which the page's lookup
    of a term among the chunks relies on."""
    return term.encode("utf-16-be", "surrogatepass")


def _deltas(values: list[int]) -> list[int]:
    """Each value as the difference from the one before (the first as it is)."""
    return values[:1] + list(map(sub, values[1:], values[:-1]))


def _gaps(flat: list[int]) -> list[int]:
    """[article, weight, ...] with each article number as the gap from the one before."""
    out = flat[:]
    out[0::2] = _deltas(flat[0::2])
    return out


def _chunks(postings: dict[str, list[int]]) -> list[tuple[str, str, bytes]]:
    """(first term, last term, file bytes) of each chunk, in term order."""
    chunks: list[tuple[str, str, bytes]] = []
    group: list[bytes] = []
    first = last = ""
    size = 0
    for term in sorted(postings, key=_utf16):
        # The list's repr without its spaces: the same bytes as joining str() of each number,
        # made in C (~6x faster; a shard of 6,250 articles holds ~6 million numbers).
        numbers = repr(_gaps(postings[term])).replace(", ", ",").encode()
        entry = _dumps(term) + b":" + numbers
        if not group:
            first = term
        group.append(entry)
        last = term
        size += len(entry) + 1
        if size >= CHUNK_BYTES:
            chunks.append((first, last, b"{" + b",".join(group) + b"}"))
            group, size = [], 0
    if group:
        chunks.append((first, last, b"{" + b",".join(group) + b"}"))
    return chunks


def bundle_files(records: list[dict[str, Any]], name: str) -> list[tuple[str, bytes]]:
    """One shard of the index (records in any order) as ('search/<name>/...', bytes),
    sorted by path."""
    docs = sorted(records, key=lambda r: (r["date"], r["url"]))
    sections = sorted({r["section"] for r in docs})
    number = {s: i for i, s in enumerate(sections)}
    postings: dict[str, list[int]] = {}
    lengths: list[int] = []
    for i, rec in enumerate(docs):
        length, terms, counts = _weights(rec)
        lengths.append(length)
        for term, weight in zip(terms, counts, strict=True):
            found = postings.get(term)
            if found is None:
                postings[term] = [i, weight]
            else:
                found += (i, weight)
    base = f"{FOLDER}/{name}"
    files: list[tuple[str, bytes]] = []
    table = []
    for first, last, body in _chunks(postings):
        file = hashlib.sha1(body).hexdigest()[:16]
        table.append([first, last, file])
        files.append((f"{base}/c/{file}.json", body))
    meta = {
        "format": FORMAT,
        "docs": len(docs),
        "words": sum(lengths),
        "sections": sections,
        "sec": [number[r["section"]] for r in docs],
        "len": lengths,
        "day": _deltas([_day(r["date"]) for r in docs]),
        "chunks": table,
    }
    files.append((f"{base}/meta.json", _dumps(meta)))
    for i, rec in enumerate(docs):
        shown = {k: rec[k] for k in ("url", "title", "section", "date", "when", "summary")}
        files.append((f"{base}/f/{i}.json", _dumps(shown)))
    return sorted(files)


def index_files(
    site: Site, config: Config, articles: tuple[Article, ...], name: str
) -> list[tuple[str, bytes]]:
    """The shard `name` made of `articles` (their terms from the build cache where it has
    them: `Site.terms`)."""
    records = []
    for art in articles:
        terms = site.terms.get(art.source)
        records.append(record(art, config, terms) if terms else record(site.full(art), config))
    return bundle_files(records, name)


# A large site's index is split into shards by source path (`model.shard_of`), which the
# search page reads together: an edit re-indexes one shard, and the shards are made in
# parallel. At 10,000 articles, 16 shards of ~625.
SHARD_ARTICLES = 500  # at least this many articles a shard, on average
MAX_SHARDS = 16  # a power of two dividing the build cache's 64 shards (`shard_of`)


def shard_count(articles: int) -> int:
    """How many shards: a power of two, so that each is a union of build-cache shards."""
    count = 1
    while count * 2 <= MAX_SHARDS and articles >= count * 2 * SHARD_ARTICLES:
        count *= 2
    return count


def bundle_name(shard: int) -> str:
    return f"index-{shard:02d}"


def shards(site: Site) -> list[tuple[str, tuple[Article, ...]]]:
    """(shard name, its articles) for every shard that has articles."""
    count = shard_count(len(site.articles))
    parts: list[list[Article]] = [[] for _ in range(count)]
    for art in site.articles:
        parts[shard_of(art.source, count)].append(art)
    return [(bundle_name(i), tuple(part)) for i, part in enumerate(parts) if part]


def bundle_key(name: str, stamps: Iterable[str]) -> str:
    """A shard's group key: its name, the index format and its articles' stamps in any
    order (a change to Sahifa's code remakes every shard anyway: `fingerprint.code_version`)."""
    return digest(name, str(FORMAT), *sorted(stamps))


def bundle_paths(site: Site, config: Config) -> tuple[str, ...]:
    """The search page's shards ('/search/index-00/', ...): none without an index."""
    if not search_enabled(config):
        return ()
    return tuple(f"/{FOLDER}/{name}/" for name, _ in shards(site))


def search_groups(site: Site, config: Config) -> Iterator[FileGroup]:
    """The script, and each shard of the index as a group keyed by its articles (a change
    to one of them re-indexes its shard only)."""
    yield FileGroup("search-script", "", lambda: [("search/search.js", SEARCH_JS.encode("utf-8"))])
    if not search_enabled(config):
        return
    for name, articles in shards(site):
        key = bundle_key(name, map(article_stamp, articles))
        make = partial(index_files, site, config, articles, name)
        yield FileGroup(f"search:{name}", key, make, heavy=True)


# The search page's script: fold the query like arabic.fold, read the shards, rank, list. ------

SEARCH_JS = r"""// Sahifa search: the site's own index (see sahifa/search.py), fetched in parts as needed.
const form = document.querySelector("[data-search-form]");
const input = form.querySelector("input[name=q]");
const select = form.querySelector("select[name=section]");
const status = document.querySelector("[data-search-status]");
const list = document.querySelector("[data-search-results]");
const shards = (form.dataset.index || "").split(" ").filter(Boolean);

// Same folding as sahifa.arabic.normalize: marks and tatweel out, alef/ya/ta marbuta unified.
const MARKS = /[\u064B-\u065F\u0670\u0640\u06D6-\u06ED\u200B-\u200F\u202A-\u202E\u2066-\u2069\u061C\uFEFF]/g;
const FOLD = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"};
export function fold(text) {
  return text.normalize("NFC").replace(MARKS, "")
    .replace(/[أإآٱىةؤئ]/g, (c) => FOLD[c])
    .replace(/[\u0660-\u0669]/g, (d) => String(d.charCodeAt(0) - 0x0660))
    .replace(/[\u06F0-\u06F9]/g, (d) => String(d.charCodeAt(0) - 0x06F0))
    .replace(/\s+/g, " ").trim().toLowerCase();
}

// The words of a query as sahifa.arabic.token_columns splits a text, each as
// sahifa.arabic.query_term looks it up (the article off a longer word).
const WORD = /[\p{L}\p{N}][\p{L}\p{N}_]*(?:[.\-&][A-Za-z0-9]+)*/gu;
export function queryTerm(word) {
  return word.length > 4 && word.startsWith("ال") ? word.slice(2) : word;
}
export function terms(query) {
  return [...new Set((fold(query).match(WORD) || []).map(queryTerm))];
}

// A folded word and its bases without proclitics, as sahifa.arabic.search_terms (which
// files every word of an article under these): و/ف, then ب/ل/ك (لل = ل + ال), then ال.
export function bases(word) {
  const stems = [word];
  if (word.length > 3 && "وف".includes(word[0])) stems.push(word.slice(1));
  for (const w of [...stems]) {
    if (w.length > 3 && w.startsWith("لل")) stems.push("ال" + w.slice(2));
    if (w.length > 3 && "بلك".includes(w[0])) stems.push(w.slice(1));
  }
  for (const w of [...stems]) if (w.length > 4 && w.startsWith("ال")) stems.push(w.slice(2));
  return [...new Set(stems)];
}

const files = new Map();
function fetchJSON(url) {
  if (!files.has(url)) {
    const got = fetch(url).then((r) => {
      if (!r.ok) throw new Error(`${url}: ${r.status}`);
      return r.json();
    });
    got.catch(() => files.delete(url));  // tried again by the next search
    files.set(url, got);
  }
  return files.get(url);
}
// A running sum: the index stores article numbers and days as gaps (sahifa/search.py).
function sums(gaps) {
  let total = 0;
  return gaps.map((gap) => (total += gap));
}
const meta = (shard) => fetchJSON(shard + "meta.json").then((m) => ({ ...m, day: sums(m.day) }));
const load = () => Promise.all(shards.map(meta));

// The chunks of a shard that may hold `term` (or, for a prefix, any term starting with it).
function chunksFor(meta, term, prefix) {
  const end = term + "\uffff";
  return meta.chunks.filter(([first, last]) =>
    prefix ? last >= term && first <= end : first <= term && term <= last);
}

const K1 = 1.2, B = 0.75;  // BM25
const PREFIX_WEIGHT = 0.5;  // a longer word found by a prefix counts half
const MIN_PREFIX = 3;  // shorter query words match whole terms only

// For one query word, in each shard: article number -> weight. The word is looked up under
// each of its bases (بالإمارات -> الامارات, امارات: the highest weight counts, as an
// article's word is filed under all of them), and as a prefix of longer words.
async function postings(metas, word) {
  const exact = new Set(bases(word));
  const head = queryTerm(word);
  const prefix = head.length >= MIN_PREFIX;
  return Promise.all(metas.map(async (meta, s) => {
    const names = new Set();
    for (const term of exact) for (const c of chunksFor(meta, term, false)) names.add(c[2]);
    if (prefix) for (const c of chunksFor(meta, head, true)) names.add(c[2]);
    const chunks = await Promise.all([...names].map((n) => fetchJSON(`${shards[s]}c/${n}.json`)));
    const whole = new Map(), longer = new Map();
    for (const chunk of chunks) {
      for (const [term, list] of Object.entries(chunk)) {
        if (exact.has(term)) {
          for (let i = 0, doc = 0; i < list.length; i += 2) {
            doc += list[i];
            whole.set(doc, Math.max(whole.get(doc) || 0, list[i + 1]));
          }
        } else if (prefix && term.startsWith(head)) {
          for (let i = 0, doc = 0; i < list.length; i += 2) {
            doc += list[i];
            longer.set(doc, (longer.get(doc) || 0) + PREFIX_WEIGHT * list[i + 1]);
          }
        }
      }
    }
    for (const [doc, weight] of longer) whole.set(doc, (whole.get(doc) || 0) + weight);
    return whole;
  }));
}

// Articles holding every word of the query (in `section`, if given), best first: BM25 over
// the whole site, then the newest.
export async function find(query, section) {
  const words = terms(query);
  if (!words.length || !shards.length) return [];
  const metas = await load();
  const hits = await Promise.all(words.map((w) => postings(metas, w)));
  let docs = 0, length = 0;
  for (const meta of metas) { docs += meta.docs; length += meta.words; }
  const avg = length / Math.max(docs, 1);
  const idf = hits.map((perShard) => {
    const df = perShard.reduce((n, found) => n + found.size, 0);
    return Math.log(1 + (docs - df + 0.5) / (df + 0.5));
  });
  const results = [];
  metas.forEach((meta, s) => {
    const only = section ? meta.sections.indexOf(section) : -1;
    if (section && only < 0) return;
    for (const doc of hits[0][s].keys()) {
      if (section && meta.sec[doc] !== only) continue;
      if (!hits.every((perShard) => perShard[s].has(doc))) continue;
      const norm = K1 * (1 - B + B * meta.len[doc] / avg);
      let score = 0;
      hits.forEach((perShard, k) => {
        const tf = perShard[s].get(doc);
        score += idf[k] * tf * (K1 + 1) / (tf + norm);
      });
      results.push({ shard: s, doc, score, day: meta.day[doc] });
    }
  });
  results.sort((a, b) => b.score - a.score || b.day - a.day || b.shard - a.shard || b.doc - a.doc);
  return results.map((r) => ({ ...r, data: () => fetchJSON(`${shards[r.shard]}f/${r.doc}.json`) }));
}

function item(data) {
  const li = document.createElement("li");
  li.className = "card";
  const a = document.createElement("a");
  a.href = data.url;
  a.textContent = data.title;
  li.append(a);
  const meta = document.createElement("p");
  meta.className = "card-meta";
  meta.textContent = data.section;
  if (data.date) {
    const time = document.createElement("time");
    time.dateTime = data.date;
    time.textContent = data.when;
    meta.append(" · ", time);
  }
  li.append(meta);
  if (data.summary) {
    const p = document.createElement("p");
    p.className = "summary";
    p.textContent = data.summary;
    li.append(p);
  }
  return li;
}

let latest = 0;
async function run() {
  const query = input.value;
  const section = select ? select.value : "";
  const url = new URL(location.href);
  url.searchParams.set("q", query);
  if (section) url.searchParams.set("section", section); else url.searchParams.delete("section");
  history.replaceState(null, "", url);
  const mine = ++latest;  // a slower earlier search must not overwrite this one's results
  list.replaceChildren();
  if (!fold(query)) { status.textContent = ""; return; }
  if (!shards.length) {  // built with search off (`serve`'s preview, --no-search)
    status.textContent = "البحث غير متاح: لم يُبنَ فهرسه لهذه النسخة من الموقع.";
    return;
  }
  status.textContent = "جارٍ البحث…";
  try {
    const found = await find(query, section);
    const shown = await Promise.all(found.slice(0, 30).map((r) => r.data()));
    if (mine !== latest) return;
    list.replaceChildren(...shown.map(item));
    status.textContent = found.length ? `النتائج: ${found.length}` : "لا نتائج لهذا البحث.";
  } catch (err) {
    if (mine !== latest) return;
    status.textContent = "تعذر تحميل فهرس البحث.";
    console.error(err);
  }
}

// Results come as the reader types, once they pause: a search a keystroke is wasted work.
let pause = 0;
form.addEventListener("submit", (e) => { e.preventDefault(); clearTimeout(pause); run(); });
input.addEventListener("input", () => { clearTimeout(pause); pause = setTimeout(run, 300); });
if (select) select.addEventListener("change", run);
// Start loading the shards' tables when the reader goes to type, not when they press Enter.
// A failure is reported (and retried) by the search itself.
input.addEventListener("focus", () => { load().catch(() => {}); }, { once: true });
const params = new URLSearchParams(location.search);
input.value = params.get("q") || "";
if (select && params.get("section")) select.value = params.get("section");
if (input.value) run();
"""
