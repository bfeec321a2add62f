"""The nginx config in docs/deploy.md, run for real: the sample site served under /news/ by
Debian's nginx on 127.0.0.1, crawled link by link (Arabic URLs included)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup

from sahifa.config import load_config
from sahifa.pipeline import build

from .conftest import ROOT

NGINX = Path("/usr/sbin/nginx")
DOC = ROOT / "docs" / "deploy.md"


def server_block() -> str:
    """The ```nginx block that follows the 'tests/test_nginx.py runs' marker in deploy.md."""
    text = DOC.read_text("utf-8")
    match = re.search(r"tests/test_nginx\.py runs.*?\n```nginx\n(.*?)\n```", text, re.S)
    assert match, "docs/deploy.md has lost its tested nginx block"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not NGINX.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian nginx-light is required in CI (.ci/run installs it)")
        pytest.skip("no /usr/sbin/nginx")
    tmp = tmp_path_factory.mktemp("nginx")
    port = free_port()
    base = f"http://127.0.0.1:{port}/news/"
    build(load_config(None, content_dir=ROOT / "content", output_dir=tmp / "www" / "news",
                      base_url=base))  # fmt: skip
    block = server_block()
    assert "listen 80;" in block and "root /var/www;" in block
    block = block.replace("listen 80;", f"listen 127.0.0.1:{port};")
    block = block.replace("root /var/www;", f"root {tmp / 'www'};")
    prefix = tmp / "prefix"
    (prefix / "logs").mkdir(parents=True)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the pytest tmp dir
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/logs/error.log;\n"
        "events { worker_connections 64; }\n"
        "http {\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n"
        f"  access_log {prefix}/logs/access.log;\n"
        + "".join(f"  {k}_temp_path {prefix}/{k};\n"
                  for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + block + "\n}\n",
        encoding="utf-8",
    )  # fmt: skip
    test = subprocess.run([str(NGINX), "-t", "-p", str(prefix), "-c", str(conf)],
                          capture_output=True, text=True)  # fmt: skip
    assert test.returncode == 0, test.stderr
    proc = subprocess.Popen(
        [str(NGINX), "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"nginx did not start: {proc.stderr.read().decode()}")
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(prefix / "client_body", ignore_errors=True)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    ascii_url = parts._replace(path=quote(unquote(parts.path))).geturl()
    try:
        with OPENER.open(ascii_url, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name, tag) in {("href", "a"), ("href", "link"), ("src", "script"),
                                         ("src", "img")}:  # fmt: skip
                self.links.append(value)


def test_crawl_every_internal_link(nginx: str):
    seen: set[str] = set()
    queue = [nginx]
    pages = 0
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        status, headers, body = fetch(url)
        assert status == 200, f"{unquote(url)}: {status}"
        if headers.get("Content-Type", "").startswith("text/html"):
            pages += 1
            parser = Links()
            parser.feed(body.decode("utf-8"))
            for link in parser.links:
                target = urljoin(url, link).split("#", 1)[0]
                if target.startswith(nginx):
                    queue.append(target)
    assert pages > 40
    assert any("%" not in u and re.search("[\u0600-\u06ff]", u) for u in seen), "Arabic URLs"


def test_sitemap_and_feeds_resolve(nginx: str):
    status, headers, body = fetch(nginx + "sitemap.xml")
    assert status == 200
    ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    locs = [el.text for el in ET.fromstring(body).iter(f"{ns}loc")]
    assert locs and all(loc.startswith(nginx) for loc in locs)
    for loc in locs:
        assert fetch(loc)[0] == 200, unquote(loc)
    status, headers, body = fetch(nginx + "atom.xml")
    assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
    atom = "{http://www.w3.org/2005/Atom}"
    for link in ET.fromstring(body).iter(f"{atom}link"):
        assert fetch(link.get("href"))[0] == 200
    assert fetch(nginx + "rss.xml")[1]["Content-Type"].startswith("application/rss+xml")
    assert fetch(nginx + "feed.json")[1]["Content-Type"].startswith("application/feed+json")
    status, _, body = fetch(nginx + "robots.txt")
    assert status == 200 and f"Sitemap: {nginx}sitemap.xml" in body.decode().splitlines()


def test_missing_page_and_folder_redirect(nginx: str):
    status, headers, body = fetch(nginx + "لا-يوجد/")
    assert status == 404 and headers["Content-Type"].startswith("text/html")
    page = BeautifulSoup(body.decode("utf-8"), "html.parser")
    assert page.html["lang"] == "ar" and page.find("h1")  # the site's own 404.html, not nginx's
    section = next(p for p in ("ثقافة", "سوريا") if fetch(nginx + p + "/")[0] == 200)
    status, headers, _ = fetch(nginx + section)
    assert status == 301 and unquote(headers["Location"]) == f"/news/{section}/"
