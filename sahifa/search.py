"""Site search with Pagefind (PyPI `pagefind[bin]`), indexed from the Site, not from files.

Each article goes into the index as one record (a stand-in page): its text folded with
`arabic.normalize` (أ/إ/آ -> ا, ى -> ي, ة -> ه, harakat and tatweel removed, digits unified),
its original title, summary, section and date as metadata, and its section as a filter. The search
page folds the reader's query the same way in JavaScript (`search/search.js`), so `الامارات`
finds `الإمارات` and `مدرسه` finds `مدرسة`. Results show the original title and summary, never
the folded text.

The index comes back as (path, bytes) pairs like every other output file, so it is written into
the build's temporary folder and swapped in with the rest of the site: `site/` is never
half-indexed. `SAHIFA_SEARCH=0` in the environment skips indexing (the test suite does this
except where a test needs the index).
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import logging
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from functools import cache, partial
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from .arabic import normalize
from .config import Config, search_enabled
from .errors import SahifaError
from .model import Article, Site, shard_of
from .publish import FileGroup, article_stamp, digest
from .writer import check_inside

log = logging.getLogger("sahifa")

BUNDLE = "pagefind"
LANGUAGE = "ar"  # one index for the whole site: the search page is Arabic


def available() -> bool:
    try:
        from pagefind.service import get_executable
    except ImportError:
        return False
    return get_executable() is not None


def record(article: Article, config: Config) -> dict[str, Any]:
    """The Pagefind custom record for one article."""
    meta = {"title": article.title, "section": article.section}
    if article.summary:
        meta["summary"] = article.summary
    if article.date:
        meta["date"] = article.date.date().isoformat()
    return {
        "url": config.base_path + article.path.lstrip("/"),
        "content": normalize(article.text),
        "language": LANGUAGE,
        "meta": meta,
        "filters": {"section": [article.section]},
    }


def record_html(rec: dict[str, Any]) -> str:
    """A stand-in page for one record: the folded text is the indexed body; title, summary,
    section and date are metadata (outside the body, so not indexed twice); section is a filter."""
    meta = "".join(
        f'<p data-pagefind-meta="{key}">{html.escape(value)}</p>\n'
        for key, value in rec["meta"].items()
    )
    filters = "".join(
        f'<p data-pagefind-filter="{key}">{html.escape(value)}</p>\n'
        for key, values in rec["filters"].items()
        for value in values
    )
    return (
        f'<!doctype html>\n<html lang="{rec["language"]}">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(rec['meta']['title'])}</title></head>\n<body>\n{meta}{filters}"
        f"<main data-pagefind-body>{html.escape(rec['content'])}</main>\n</body>\n</html>\n"
    )


def run_pagefind(records: list[dict[str, Any]], work: Path) -> Path:
    """Index the records with the Pagefind binary; returns the bundle folder.

    The binary reads a folder of stand-in pages (one per record, at the record's URL), which is
    far faster than Pagefind's Python service API (that one answers one record per 0.1 s).
    """
    from pagefind.service import get_executable

    exe = get_executable()
    if exe is None:
        raise SahifaError("Pagefind's binary is missing: pip install 'pagefind[bin]'")
    pages, out = work / "pages", work / BUNDLE
    for rec in sorted(records, key=lambda r: r["url"]):  # the same bundle in any order
        rel = unquote(rec["url"]).strip("/")
        target = check_inside(pages, f"{rel}/index.html" if rel else "index.html")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(record_html(rec), encoding="utf-8")
    pages.mkdir(parents=True, exist_ok=True)
    cmd = [str(exe), "--site", str(pages), "--output-path", str(out), "--silent"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SahifaError(f"Pagefind failed: {(result.stderr or result.stdout).strip()}")
    return out


def index_files(
    site: Site, config: Config, articles: tuple[Article, ...] | None = None, bundle: str = BUNDLE
) -> list[tuple[str, bytes]]:
    """The Pagefind bundle of `articles` (all the site's by default) as ('<bundle>/...',
    bytes), sorted by path."""
    chosen = site.articles if articles is None else articles
    return bundle_files([record(site.full(a), config) for a in chosen], bundle)


def bundle_files(records: list[dict[str, Any]], bundle: str = BUNDLE) -> list[tuple[str, bytes]]:
    """The Pagefind bundle of the records, as ('<bundle>/...', bytes) sorted by path."""
    with tempfile.TemporaryDirectory(prefix="sahifa-pagefind-") as tmp:
        out = run_pagefind(records, Path(tmp))
        files = {
            p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()
        }
    files = canonical_filters(files)
    return [(f"{bundle}/{name}", files[name]) for name in sorted(files)]


# A large site's index is split into bundles by source path (`model.shard_of`), which the
# search page merges (Pagefind's mergeIndex): an edit re-indexes one bundle, and the bundles
# are made in parallel. 16 bundles of ~625 articles at 10,000: one takes ~2 s against ~45 s
# for the whole site in one (records ~12 s, Pagefind ~32 s).
SHARD_ARTICLES = 500  # at least this many articles a bundle, on average
MAX_SHARDS = 16  # a power of two dividing the build cache's 64 shards (`shard_of`)


def shard_count(articles: int) -> int:
    """How many bundles: a power of two, so that each bundle is a union of cache shards."""
    count = 1
    while count * 2 <= MAX_SHARDS and articles >= count * 2 * SHARD_ARTICLES:
        count *= 2
    return count


def bundle_name(shard: int) -> str:
    """The first bundle is 'pagefind' (what a one-bundle site has always had)."""
    return BUNDLE if shard == 0 else f"{BUNDLE}-{shard:02d}"


def shards(site: Site) -> list[tuple[str, tuple[Article, ...]]]:
    """(bundle name, its articles) for every bundle that has articles."""
    count = shard_count(len(site.articles))
    parts: list[list[Article]] = [[] for _ in range(count)]
    for art in site.articles:
        parts[shard_of(art.source, count)].append(art)
    return [(bundle_name(i), tuple(part)) for i, part in enumerate(parts) if part]


@cache
def pagefind_version() -> str:
    """The installed Pagefind's version: its bundles are made by it and merged by the search
    page, which needs one version for all of them."""
    try:
        return metadata.version("pagefind_bin")
    except metadata.PackageNotFoundError:
        return ""


def bundle_key(name: str, stamps: Iterable[str]) -> str:
    """A bundle's group key: its name, its articles' stamps in any order, and the Pagefind
    version (after an upgrade every bundle is made again, not only the edited ones: bundles
    of two versions would sit side by side on the search page)."""
    return digest(name, pagefind_version(), *sorted(stamps))


def bundle_paths(site: Site, config: Config) -> tuple[str, ...]:
    """The search page's bundles ('/pagefind/', '/pagefind-01/', ...): none without an index."""
    if not search_enabled(config) or not available():
        return ()
    return tuple(f"/{name}/" for name, _ in shards(site))


# Deterministic bytes -------------------------------------------------------------------------
#
# Pagefind writes the values of a filter in hash-map order, which changes from run to run, and
# names the filter file and the language's meta file after hashes of their bytes. To make the
# bundle byte-identical across builds, the values are put in sorted order (a reordering of
# whole CBOR items: nothing is re-encoded) and the renamed hashes are replaced in the meta file
# and in pagefind-entry.json. Pagefind reads these files only by the names it is given.
#
# Pagefind also numbers the pages in the order it finds the stand-ins, which is the order the
# file system lists a folder (sorting the records first does not change it). So a bundle is
# byte-identical from build to build on one file system, but not between two: made in
# /dev/shm (tmpfs) instead of /tmp (ext4), the same 14 records gave other index files
# (stop 21), and ext4 itself lists a folder in an order seeded per file system.

_SIGNATURE = b"pagefind_dcd"


def _cbor_head(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(major type, argument, position after the head) of the CBOR item at `pos`."""
    major, info = buf[pos] >> 5, buf[pos] & 0x1F
    if info < 24:
        return major, info, pos + 1
    size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
    return major, int.from_bytes(buf[pos + 1 : pos + 1 + size], "big"), pos + 1 + size


def _cbor_end(buf: bytes, pos: int) -> int:
    """Where the CBOR item at `pos` ends (unsigned ints, strings, arrays and maps only)."""
    major, arg, pos = _cbor_head(buf, pos)
    if major in (0, 1):
        return pos
    if major in (2, 3):
        return pos + arg
    if major in (4, 5):
        for _ in range(arg * (2 if major == 5 else 1)):
            pos = _cbor_end(buf, pos)
        return pos
    raise ValueError(f"unexpected CBOR major type {major}")


def _sorted_filter(payload: bytes) -> bytes:
    """A filter file is [name, [[value, [page, ...]], ...]]: sort the [value, pages] items."""
    major, count, pos = _cbor_head(payload, 0)
    if major != 4 or count != 2:
        raise ValueError("not a Pagefind filter")
    pos = _cbor_end(payload, pos)  # the filter's name
    major, count, start = _cbor_head(payload, pos)
    if major != 4:
        raise ValueError("not a Pagefind filter")
    items, at = [], start
    for _ in range(count):
        end = _cbor_end(payload, at)
        items.append(payload[at:end])
        at = end
    if at != len(payload):
        raise ValueError("trailing bytes in a Pagefind filter")
    return payload[:start] + b"".join(sorted(items))


def _pack(payload: bytes) -> bytes:
    return gzip.compress(_SIGNATURE + payload, mtime=0)


def _unpack(data: bytes) -> bytes:
    raw = gzip.decompress(data)
    if not raw.startswith(_SIGNATURE):
        raise ValueError("not a Pagefind data file")
    return raw[len(_SIGNATURE) :]


def canonical_filters(files: dict[str, bytes]) -> dict[str, bytes]:
    """The bundle with filter values in a stable order and the hashes renamed to match."""
    try:
        return _canonical_filters(files)
    except (ValueError, KeyError, OSError, EOFError) as exc:  # a newer Pagefind format
        log.warning("search: could not make the Pagefind bundle deterministic (%s)", exc)
        return files


def _canonical_filters(files: dict[str, bytes]) -> dict[str, bytes]:
    out = dict(files)
    renamed: dict[str, str] = {}
    for name in sorted(files):
        if not (name.startswith("filter/") and name.endswith(".pf_filter")):
            continue
        old = name[len("filter/") : -len(".pf_filter")]
        payload = _sorted_filter(_unpack(files[name]))
        lang, digest = old.rsplit("_", 1)
        new = f"{lang}_{hashlib.sha256(payload).hexdigest()[: len(digest)]}"
        del out[name]
        out[f"filter/{new}.pf_filter"] = _pack(payload)
        renamed[old] = new
    if not renamed:
        return out
    entry = json.loads(files["pagefind-entry.json"])
    for info in entry["languages"].values():
        old_meta = info["hash"]
        name = f"pagefind.{old_meta}.pf_meta"
        payload = _unpack(files[name])
        for old, new in renamed.items():
            payload = payload.replace(old.encode(), new.encode())  # same length: CBOR stays valid
        prefix, digest = old_meta.rsplit("_", 1)
        new_meta = f"{prefix}_{hashlib.sha256(payload).hexdigest()[: len(digest)]}"
        del out[name]
        out[f"pagefind.{new_meta}.pf_meta"] = _pack(payload)
        info["hash"] = new_meta
    out["pagefind-entry.json"] = json.dumps(
        entry, ensure_ascii=False, separators=(",", ":")
    ).encode()
    return out


def search_groups(site: Site, config: Config) -> Iterator[FileGroup]:
    """The script, and each bundle of the index as a group keyed by its articles (a change
    to one of them re-indexes its bundle only)."""
    yield FileGroup("search-script", "", lambda: [("search/search.js", SEARCH_JS.encode("utf-8"))])
    if not search_enabled(config):
        return
    if not available():
        log.warning("search: Pagefind is not installed (pip install 'pagefind[bin]'); no index")
        return
    for name, articles in shards(site):
        key = bundle_key(name, map(article_stamp, articles))
        make = partial(index_files, site, config, articles, name)
        yield FileGroup(f"search:{name}", key, make, heavy=True)


# The search page's script: fold the query like arabic.normalize, search, list the results. ---

SEARCH_JS = r"""// Sahifa search: Pagefind with Arabic folding (see sahifa/search.py).
const form = document.querySelector("[data-search-form]");
const input = form.querySelector("input[name=q]");
const select = form.querySelector("select[name=section]");
const status = document.querySelector("[data-search-status]");
const list = document.querySelector("[data-search-results]");
const bundle = form.dataset.bundle;
const merged = (form.dataset.merge || "").split(" ").filter(Boolean);

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

let loading = null;
async function open() {
  const pf = await import(bundle + "pagefind.js");
  await pf.options({ excerptLength: 20 });
  await pf.init();  // the index itself, now rather than at the first search
  // A large site's index comes in several bundles (sahifa/search.py, shards): merged before
  // the first search, so that no search sees only part of it. All at once: each merge fetches
  // two files, and one after the other they cost two round trips a bundle (100,000 articles,
  // 16 bundles, 150 ms round trips: first search 15.9 s one by one, 11.7 s at once).
  await Promise.all(merged.map((other) => pf.mergeIndex(other)));
  return pf;
}
function load() {
  loading = loading || open().catch((err) => { loading = null; throw err; });  // retried next time
  return loading;
}

function item(data) {
  const li = document.createElement("li");
  li.className = "card";
  const a = document.createElement("a");
  a.href = data.url;
  a.textContent = data.meta.title;
  li.append(a);
  const meta = document.createElement("p");
  meta.className = "card-meta";
  meta.textContent = [data.meta.section, data.meta.date].filter(Boolean).join(" · ");
  li.append(meta);
  if (data.meta.summary) {
    const p = document.createElement("p");
    p.className = "summary";
    p.textContent = data.meta.summary;
    li.append(p);
  }
  return li;
}

async function run() {
  const query = fold(input.value);
  const section = select ? select.value : "";
  const url = new URL(location.href);
  url.searchParams.set("q", input.value);
  if (section) url.searchParams.set("section", section); else url.searchParams.delete("section");
  history.replaceState(null, "", url);
  list.replaceChildren();
  if (!query) { status.textContent = ""; return; }
  status.textContent = "جارٍ البحث…";
  try {
    const pf = await load();
    const found = await pf.search(query, section ? { filters: { section } } : {});
    const shown = await Promise.all(found.results.slice(0, 30).map((r) => r.data()));
    list.replaceChildren(...shown.map(item));
    status.textContent = found.results.length
      ? `النتائج: ${found.results.length}` : "لا نتائج لهذا البحث.";
  } catch (err) {
    status.textContent = "تعذر تحميل فهرس البحث.";
    console.error(err);
  }
}

form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
if (select) select.addEventListener("change", run);
// Start loading the index when the reader goes to type, not when they press Enter: merging a
// large site's bundles takes round trips, which the typing hides. A failure is reported (and
// retried) by the search itself.
input.addEventListener("focus", () => { load().catch(() => {}); }, { once: true });
const params = new URLSearchParams(location.search);
input.value = params.get("q") || "";
if (select && params.get("section")) select.value = params.get("section");
if (input.value) run();
"""
