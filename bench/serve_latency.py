"""Save-to-reloaded-page latency of `build.py serve`, measured in a real browser.

    python bench/serve_latency.py [--sizes 100 10000] [--edits 10] [--work DIR] [--search] [--title]

For each size: generate a corpus with /work/shared/tools/gen_corpus.py (seed 1, Markdown), start
the development server on a free loopback port (first build timed), open one article in
Debian's chromium, then edit that article's file `--edits` times. One sample is the time from
just before the file is written to the reloaded page's DOMContentLoaded, both on the wall
clock (the page's `performance.timeOrigin` is wall-clock based). Last, the server is started
again on the same site and that start is timed (its cache makes it quick). The server's own share (from
the change event to the pages being told) is reported beside it. A save of one article
shows its page from a one-page preview first; the full build that brings every other page up
to date follows, and its time ("whole site current") is reported too.

Search indexing is off unless --search, as in the preview itself (`serve.default_builder`).
With --title each save changes the article's title instead of its body: the title shows on
listings, related blocks and feeds, so the full build after the preview renders those too.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GEN = ROOT.parent / "shared" / "tools" / "gen_corpus.py"
CHROMIUM = "/usr/bin/chromium"


def corpus(work: Path, n: int) -> Path:
    content = work / f"content-{n}"
    if not (content.is_dir() and len(list(content.glob("*.md"))) == n):
        shutil.rmtree(content, ignore_errors=True)
        subprocess.run(
            [sys.executable, str(GEN), "--n", str(n), "--seed", "1", "--format", "markdown",
             "--out", str(content)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    return content


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(browser, work: Path, n: int, edits: int, title: bool = False) -> dict[str, object]:
    from sahifa.config import load_config
    from sahifa.serve import DevServer, preview_site

    content = corpus(work, n)
    theme = work / "theme"  # a copy, so that the run never touches the repository's theme
    shutil.rmtree(theme, ignore_errors=True)
    shutil.copytree(ROOT / "templates", theme)
    output = work / f"site-{n}"
    shutil.rmtree(output, ignore_errors=True)
    config, factory = preview_site(
        load_config(None, content_dir=content, output_dir=output, theme_dir=theme)
    )
    output = config.output_dir  # what `python build.py serve` serves: its own folder
    shutil.rmtree(output.parent, ignore_errors=True)  # and its cache: a first build from cold
    server = DevServer(
        config, "127.0.0.1", 0, config_path=None, out=io.StringIO(), builder_factory=factory
    )
    t0 = time.perf_counter()
    server.start()
    first_build = time.perf_counter() - t0
    try:
        source = content / "a000050.md"
        original = source.read_text(encoding="utf-8")
        page_dir = next(output.glob("*/a000050"))
        url = server.url + quote(page_dir.relative_to(output).as_posix()) + "/"
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("html[data-sahifa-live]")
        totals: list[float] = []
        builds: list[float] = []
        notified: list[float] = []
        consistent: list[float] = []
        for i in range(edits):
            before = server.last_build
            marker = f"تعديل-رقم-{i}-{time.time_ns()}"
            if title:
                text = original.replace('title: "', f'title: "{marker} ', 1)
            else:
                text = original.replace("\n## ", f"\n{marker}\n\n## ", 1)
            start = time.time()
            source.write_text(text, encoding="utf-8")
            page.wait_for_function(
                f"document.body && document.body.innerText.includes('{marker}')",
                polling="raf", timeout=600_000,
            )  # fmt: skip
            loaded = page.evaluate(
                "performance.timeOrigin + "
                "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
            )
            totals.append(loaded - start * 1000)
            # The full build that follows the one-page preview: wait for it, so that the next
            # save is measured on an idle server, and report when the whole site was current.
            while server.last_build is before:
                time.sleep(0.01)
            consistent.append((time.time() - start) * 1000)
            builds.append(server.build_seconds * 1000)
            notified.append(server.notify_seconds * 1000)
            page.wait_for_selector("html[data-sahifa-live]")
            time.sleep(0.3)  # let the next edit be a separate save
        source.write_text(original, encoding="utf-8")
        page.close()
    finally:
        server.stop()
    # Started again on the same site: the server's own cache (serve.SERVE_CACHE) leaves only
    # the article restored above to read again.
    again = DevServer(
        config, "127.0.0.1", 0, config_path=None, out=io.StringIO(), builder_factory=factory
    )
    t1 = time.perf_counter()
    again.start()
    restart = time.perf_counter() - t1
    again.stop()
    return {
        "restart": restart,
        "n": n,
        "first_build": first_build,
        "median": statistics.median(totals),
        "p90": percentile(totals, 0.9),
        "max": max(totals),
        "build_median": statistics.median(builds),
        "server_median": statistics.median(notified),
        "consistent_median": statistics.median(consistent),
        "samples": totals,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000])
    parser.add_argument("--edits", type=int, default=10)
    parser.add_argument("--work", type=Path, default=Path("/tmp/sahifa-serve-bench"))
    parser.add_argument("--search", action="store_true", help="keep search indexing on")
    parser.add_argument("--title", action="store_true", help="edit the title, not the body")
    args = parser.parse_args()
    if not args.search:
        os.environ["SAHIFA_SEARCH"] = "0"
    args.work.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    flags = ["--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    if os.geteuid() == 0:
        flags.append("--no-sandbox")
    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=flags)
        for n in args.sizes:
            row = measure(browser, args.work, n, args.edits, args.title)
            rows.append(row)
            print(
                f"{n:>6} articles: first build {row['first_build']:.1f} s; save -> reloaded page "
                f"median {row['median']:.0f} ms, p90 {row['p90']:.0f} ms, max {row['max']:.0f} ms "
                f"(then the full build: whole site current {row['consistent_median']:.0f} ms "
                f"after the save, full rebuild {row['build_median']:.0f} ms); "
                f"started again in {row['restart']:.1f} s",
                flush=True,
            )
            print("        each save, in order (ms):", " ".join(f"{t:.0f}" for t in row["samples"]))
        browser.close()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        f", load average {os.getloadavg()[0]:.1f}; search indexing {'on' if args.search else 'off'}"
        f"; edits to the {'title' if args.title else 'body'}"
    )


if __name__ == "__main__":
    main()
