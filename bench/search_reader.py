"""What a reader waits for on the search page of a built site: from Enter to the result count,
for the first search (every shard's meta.json, the chunks that hold the query's terms, the
results' fragments; the page starts loading the meta files when the box gets the focus, so
`--typing` seconds of typing hide some of it), then for a second query on the same page.
Locally, then through a slow network (Chromium's network emulation: 150 ms round trips,
1.6 Mbit/s down), over HTTP/1.1 (six connections a host).

    python build.py --content BIG --output /tmp/big      # with search (the default)
    python bench/search_reader.py /tmp/big [--query FIRST SECOND] [--typing 3]

Needs Debian's chromium and Python playwright (the test extras). Prints one line per query
pair: seconds until the result count shows, how many requests the page made and their bytes
(as stored: this server does not compress; a host that gzips JSON sends about a third).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import threading
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

SLOW = {"offline": False, "latency": 150, "downloadThroughput": 1.6e6 / 8,
        "uploadThroughput": 0.75e6 / 8}  # fmt: skip
DONE = (
    "(() => { const s = document.querySelector('[data-search-status]').textContent;"
    " return s && !s.startsWith('جار'); })()"
)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real host

    def log_message(self, *args: object) -> None:
        pass


def _ask(page: Page, query: str, requests: list[int], typing: float) -> tuple[float, int, int, str]:
    """(seconds from Enter to the result count, after `typing` seconds in the box, requests,
    their bytes, the status line)."""
    before = len(requests)
    page.focus("#search-q")
    time.sleep(typing)
    page.fill("#search-q", query)
    start = time.perf_counter()
    page.press("#search-q", "Enter")
    time.sleep(0.05)  # the status first says "searching"
    page.wait_for_function(DONE, timeout=600_000)
    status = page.text_content("[data-search-status]") or ""
    seconds = time.perf_counter() - start
    return seconds, len(requests) - before, sum(requests[before:]), status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("--query", nargs=2, action="append", metavar=("FIRST", "SECOND"))
    parser.add_argument(
        "--typing", type=float, default=0.0, help="seconds between focusing the box and Enter"
    )
    args = parser.parse_args()
    pairs = args.query or [("الاسكندريه", "التحالف الدولي"), ("قوات", "كونيكو")]
    handler = functools.partial(_Quiet, directory=str(args.site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    shards = len([p for p in (args.site / "search").iterdir() if p.name.startswith("index-")])
    flags = ["--headless", "--disable-gpu"] + (["--no-sandbox"] if os.geteuid() == 0 else [])
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=flags)
        for network in ("local", "slow"):
            for first, second in pairs:
                context = browser.new_context()
                page = context.new_page()
                requests: list[int] = []  # bytes of each response's body
                page.on(
                    "requestfinished",
                    lambda r, seen=requests: seen.append(r.sizes()["responseBodySize"]),
                )
                if network == "slow":
                    cdp = context.new_cdp_session(page)
                    cdp.send("Network.enable")
                    cdp.send("Network.emulateNetworkConditions", SLOW)
                page.goto(base + "/search/")
                page.wait_for_load_state("load")
                t1, n1, b1, s1 = _ask(page, first, requests, args.typing)
                t2, n2, b2, s2 = _ask(page, second, requests, args.typing)
                print(
                    f"{shards} shards, {network}, typing {args.typing} s: first {first!r}"
                    f" {t1:.2f} s, {n1} requests, {b1 / 1000:.0f} KB ({s1});"
                    f" then {second!r} {t2:.2f} s, {n2} requests, {b2 / 1000:.0f} KB ({s2})",
                    flush=True,
                )
                context.close()
        browser.close()
    server.shutdown()


if __name__ == "__main__":
    main()
