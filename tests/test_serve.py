"""`build.py serve`: the real server on a free port, spoken to over real HTTP on 127.0.0.1."""

from __future__ import annotations

import http.client
import io
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest

from sahifa.config import load_config
from sahifa.serve import DevServer, is_editor_temp, resolve

from .conftest import ROOT, make_content

SECTION, SLUG = "ثقافة", "معرض-الكتاب"
PAGE = f"/{SECTION}/{SLUG}/"
PAGE_FILE = f"{SECTION}/{SLUG}/index.html"


def article(
    body: str = "نص المقال الأول عن معرض الكتاب.", title: str = "افتتاح معرض الكتاب"
) -> str:
    return (
        f"---\ntitle: {title}\ndate: 2025-03-14T09:30:00+03:00\nsection: {SECTION}\n"
        f"slug: {SLUG}\nentities: [دمشق]\n---\n{body}\n"
    )


OTHER = "---\ntitle: خبر آخر من حلب\ndate: 2025-03-10T08:00:00+03:00\nsection: سوريا\n---\nنص.\n"
BROKEN = "---\ntitle: افتتاح معرض الكتاب\ndate: yesterday\nsection: ثقافة\n---\nنص.\n"


def make_site(tmp_path: Path, **settings: object) -> tuple[Path, Path, object]:
    """A two-article content folder, a private copy of the theme, and the Config for both."""
    content = make_content(tmp_path, {"book-fair.md": article(), "aleppo.md": OTHER})
    theme = tmp_path / "theme"
    shutil.copytree(ROOT / "templates", theme)
    config = load_config(
        None, content_dir=content, output_dir=tmp_path / "site", theme_dir=theme, **settings
    )
    return content, theme, config


@contextmanager
def running(config: object, port: int = 0, **kwargs: object) -> Iterator[DevServer]:
    out = io.StringIO()
    server = DevServer(config, "127.0.0.1", port, out=out, **kwargs)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[DevServer, Path, Path]]:
    """A server of its own, for tests that edit files."""
    content, theme, config = make_site(tmp_path)
    with running(config, config_path=None) as server:
        yield server, content, theme


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevServer, Path]]:
    """One server for the tests that only read (they may add files to site/, never edit)."""
    tmp_path = tmp_path_factory.mktemp("serve")
    _, theme, config = make_site(tmp_path)
    with running(config, config_path=None) as server:
        yield server, tmp_path


def request(server: DevServer, path: str, method: str = "GET") -> tuple[int, dict, bytes]:
    """One raw request: the path goes on the wire exactly as given."""
    host, port = server._httpd.server_address[:2]  # type: ignore[union-attr]
    assert host == "127.0.0.1"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


class Events:
    """The server-sent events a page receives, read on a thread into a queue."""

    def __init__(self, server: DevServer) -> None:
        port = server._httpd.server_address[1]  # type: ignore[union-attr]
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.conn.request("GET", "/__sahifa/events")
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200
        assert self.resp.getheader("Content-Type").startswith("text/event-stream")
        self.queue: queue.Queue[tuple[str, dict] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        event, data = "message", ""
        try:
            for raw in self.resp.fp:
                line = raw.decode("utf-8").rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif not line and data:
                    self.queue.put((event, json.loads(data)))
                    event, data = "message", ""
        except OSError:
            pass
        self.queue.put(None)

    def next(self, timeout: float = 10) -> tuple[str, dict]:
        item = self.queue.get(timeout=timeout)
        assert item is not None, "the event stream closed"
        return item

    def none_within(self, seconds: float) -> bool:
        try:
            item = self.queue.get(timeout=seconds)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected event {item}")


def enc(path: str) -> str:
    return quote(path, safe="/")


# ------------------------------------------------------------------------------ static host


def test_arabic_pages_are_served_percent_encoded(shared):
    server, _ = shared
    status, headers, body = request(server, enc(PAGE))
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert int(headers["content-length"]) == len(body)
    assert "افتتاح معرض الكتاب" in body.decode("utf-8")
    assert request(server, "/")[0] == 200
    # a pretty URL without its slash is redirected, query kept; the Location is ASCII
    status, headers, _ = request(server, enc(PAGE.rstrip("/")) + "?x=1")
    assert status == 301
    assert headers["location"] == enc(PAGE) + "?x=1"
    assert request(server, enc(PAGE) + "index.html")[0] == 200


def test_content_types(shared):
    server, tmp_path = shared
    (server.config.output_dir / "static" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    expected = {
        "/static/style.css": "text/css; charset=utf-8",
        "/static/sahifa.js": "text/javascript; charset=utf-8",
        "/robots.txt": "text/plain; charset=utf-8",
        "/sitemap.xml": "application/xml; charset=utf-8",
        "/static/logo.png": "image/png",
        "/__sahifa/livereload.js": "text/javascript; charset=utf-8",
    }
    for path, kind in expected.items():
        status, headers, body = request(server, path)
        assert (path, status, headers["content-type"]) == (path, 200, kind)
        assert headers["x-content-type-options"] == "nosniff"
    status, headers, body = request(server, "/static/style.css", method="HEAD")
    assert status == 200 and body == b""
    assert (
        int(headers["content-length"])
        == (tmp_path / "theme" / "static" / "style.css").stat().st_size
    )
    assert request(server, "/", method="POST")[0] == 501


def test_missing_page_gets_the_sites_404(shared):
    server, _ = shared
    page_404 = (server.config.output_dir / "404.html").read_text(encoding="utf-8")
    title = page_404.split("<title>")[1].split("</title>")[0]
    for path in ("/no-such-page/", enc("/ثقافة/لا-يوجد/"), "/static/none.css"):
        status, headers, body = request(server, path)
        assert status == 404, path
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert f"<title>{title}</title>" in body.decode("utf-8")


def test_nothing_outside_the_site_is_served(shared, tmp_path):
    server, _ = shared
    (tmp_path / "secret.txt").write_text("TOP-SECRET", encoding="utf-8")
    out = server.config.output_dir
    (out / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (out / "leakdir").symlink_to(tmp_path)
    (out / "static" / "up").symlink_to("../../secret.txt")
    attempts = [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/static/..%2f..%2fsecret.txt",
        "/static/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/leak.txt",
        "/leakdir/secret.txt",
        "/static/up",
        "/secret.txt%00.html",
        "/%ff%fe",
        "http://127.0.0.1/../secret.txt",
    ]
    for path in attempts:
        status, _, body = request(server, path)
        assert status in (400, 404), path
        assert b"TOP-SECRET" not in body and b"root:" not in body, path


def test_resolve_rules(tmp_path):
    root = tmp_path / "site"
    (root / "a").mkdir(parents=True)
    (root / "a" / "index.html").write_text("x")
    assert resolve(root, "/", "/a/") == (root / "a" / "index.html").resolve()
    assert resolve(root, "/", "/a").path == "/a/"  # type: ignore[union-attr]
    assert resolve(root, "/", "/../a/") == 400
    assert resolve(root, "/news/", "/news/a/") == (root / "a" / "index.html").resolve()
    assert resolve(root, "/news/", "/news").path == "/news/"  # type: ignore[union-attr]
    assert resolve(root, "/news/", "/a/") == 404


def test_base_url_with_a_sub_path(tmp_path):
    _, _, config = make_site(tmp_path, base_url="http://localhost:8000/news/")
    with running(config, config_path=None) as server:
        assert server.url.endswith("/news/")
        assert request(server, "/news/" + enc(PAGE.lstrip("/")))[0] == 200
        assert request(server, "/news")[1]["location"] == "/news/"
        assert request(server, enc(PAGE))[0] == 404


def test_live_reload_is_only_in_served_pages(shared):
    server, _ = shared
    body = request(server, enc(PAGE))[2].decode("utf-8")
    assert '<script src="/__sahifa/livereload.js"' in body
    assert f'data-page="{PAGE_FILE}"' in body
    assert body.index("sahifa-preview") < body.index("</head>")
    pages = list(server.config.output_dir.rglob("*.html"))
    assert len(pages) > 5
    for path in pages:
        data = path.read_bytes()
        assert b"livereload" not in data and b'name="sahifa-preview"' not in data, path


def test_busy_port_moves_to_the_next_free_one(tmp_path):
    _, _, config = make_site(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        try:
            with running(config, port=taken, config_path=None) as server:
                port = server._httpd.server_address[1]  # type: ignore[union-attr]
                assert port > taken
                assert f"port {taken} is in use; using port {port}" in server.out.getvalue()  # type: ignore[union-attr]
                assert request(server, "/")[0] == 200
        except Exception:
            if taken > 65535 - 20:
                pytest.skip("no ports above the busy one")
            raise


# ------------------------------------------------------------------------- watch and reload


def test_an_edit_rebuilds_once_and_tells_the_page(site):
    server, content, _ = site
    events = Events(server)
    kind, hello = events.next()
    assert kind == "hello" and hello["error"] is None
    target = content / "book-fair.md"
    # an editor's safe save: write a temp file, rename it over the article; then a burst
    tmp = content / ".book-fair.md.swp"
    tmp.write_text(article("نص معدل للمرة الأولى."), encoding="utf-8")
    os.replace(tmp, target)
    for i in range(5):
        target.write_text(article(f"نص معدل رقم {i}."), encoding="utf-8")
    kind, msg = events.next()  # first the saved article's own page, from the preview
    assert kind == "build" and msg["written"] == [PAGE_FILE] and not msg["css_only"]
    assert "نص معدل رقم 4." in request(server, enc(PAGE))[2].decode("utf-8")
    kind, msg = events.next()  # then the full build: listings and feeds carry the new summary
    assert kind == "build" and msg["written"] and PAGE_FILE not in msg["written"]
    assert events.none_within(0.3)
    assert server.builds == 1
    assert "نص معدل رقم 4." in request(server, "/")[2].decode("utf-8")


def test_editor_temp_files_do_not_rebuild(site):
    server, content, _ = site
    events = Events(server)
    events.next()
    for name in (".book-fair.md.swp", "book-fair.md~", "4913", "#book-fair.md#", ".#book-fair.md"):
        (content / name).write_text("x", encoding="utf-8")
    assert events.none_within(0.4)
    assert server.builds == 0
    for name in ("book-fair.md.tmp", "x___jb_tmp___", "sedAb12Cd", ".goutputstream-ABC"):
        assert is_editor_temp(name)
    assert not is_editor_temp("book-fair.md") and not is_editor_temp("_draft.md")


def test_css_change_rewrites_no_page(site):
    server, _, theme = site
    events = Events(server)
    events.next()
    css = theme / "static" / "style.css"
    css.write_text(css.read_text(encoding="utf-8") + "\nbody { outline: 0; }\n", encoding="utf-8")
    kind, msg = events.next()
    assert kind == "build" and "static/style.css" in msg["written"]
    assert not [f for f in msg["written"] if f.endswith(".html")]  # no page changed: no reload
    assert b"outline: 0" in request(server, "/static/style.css")[2]


def test_broken_article_keeps_serving_and_shows_the_error(site):
    server, content, _ = site
    events = Events(server)
    events.next()
    good = request(server, enc(PAGE))[2]
    (content / "book-fair.md").write_text(BROKEN, encoding="utf-8")
    kind, msg = events.next()
    assert kind == "broken"
    assert "book-fair.md:3" in msg["error"]
    status, _, body = request(server, enc(PAGE))
    page = body.decode("utf-8")
    assert status == 200 and "نص المقال الأول" in page  # the last good site
    assert 'data-error="book-fair.md:3' in page  # a page opened now shows the error too
    # a fresh stream says so at once
    late = Events(server)
    assert late.next()[1]["error"] == msg["error"]
    (content / "book-fair.md").write_text(article("نص مصلح."), encoding="utf-8")
    kind, msg = events.next()
    assert kind == "build" and PAGE_FILE in msg["written"]
    page = request(server, enc(PAGE))[2].decode("utf-8")
    assert "data-error" not in page and "نص مصلح." in page
    assert good != page.encode()


def test_broken_template_names_file_and_line(site):
    server, _, theme = site
    events = Events(server)
    events.next()
    template = theme / "404.html"
    original = template.read_text(encoding="utf-8")
    template.write_text(original + "\n{% if %}\n", encoding="utf-8")
    kind, msg = events.next()
    assert kind == "broken" and "404.html:" in msg["error"]
    assert request(server, "/nothing/")[0] == 404
    template.write_text(original, encoding="utf-8")
    assert events.next()[0] == "build"


def test_site_toml_change_rebuilds_with_the_new_setting(tmp_path):
    _, _, config = make_site(tmp_path)
    toml = tmp_path / "site.toml"
    toml.write_text('title = "الجريدة الأولى"\n', encoding="utf-8")
    config = load_config(
        toml,
        content_dir=config.content_dir,  # type: ignore[attr-defined]
        output_dir=config.output_dir,  # type: ignore[attr-defined]
        theme_dir=config.theme_dir,  # type: ignore[attr-defined]
    )
    with running(config, config_path=toml) as server:
        assert "الجريدة الأولى" in request(server, "/")[2].decode("utf-8")
        events = Events(server)
        events.next()
        toml.write_text('title = "الجريدة الثانية"\n', encoding="utf-8")
        assert events.next()[0] == "build"
        home = request(server, "/")[2].decode("utf-8")
        assert "الجريدة الثانية" in home
        toml.write_text("title = [\n", encoding="utf-8")
        kind, msg = events.next()
        assert kind == "broken" and "site.toml" in msg["error"]


# ------------------------------------------------------------------------------ stopping


def test_stop_closes_streams_and_joins_every_thread(tmp_path):
    before = set(threading.enumerate())
    _, _, config = make_site(tmp_path)
    server = DevServer(config, "127.0.0.1", 0, out=io.StringIO(), config_path=None)
    server.start()
    events = Events(server)
    events.next()
    idle = socket.create_connection(server._httpd.server_address[:2])  # type: ignore[union-attr]
    t0 = time.monotonic()
    server.stop()
    assert time.monotonic() - t0 < 3
    events.thread.join(5)
    idle.close()
    assert events.queue.get(timeout=1) is None  # the stream ended
    assert set(threading.enumerate()) - before == set()


def test_command_line_serves_and_stops_cleanly_on_ctrl_c(tmp_path):
    content = make_content(tmp_path, {"book-fair.md": article()})
    cmd = [sys.executable, str(ROOT / "build.py"), "serve", "--port", "0", "--content",
           str(content), "--output", str(tmp_path / "site")]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        url = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not url:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            if " at http://" in line:
                url = line.split(" at ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:"), url
        port = int(url.rsplit(":", 1)[1].strip("/"))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", enc(PAGE))
        assert conn.getresponse().status == 200
        conn.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "stopping" in err


def test_after_a_preview_the_full_build_waits_for_the_page_requests_to_end(tmp_path: Path):
    """The full build starts only once no request has been open for QUIET seconds (the
    reloaded page's stylesheet and scripts), or at the deadline."""
    from sahifa import serve

    config = load_config(None, content_dir=tmp_path / "content", output_dir=tmp_path / "site")
    dev = DevServer(config, "127.0.0.1", 0, config_path=None, out=io.StringIO())
    dev.answering(+1)  # a request under way
    threading.Timer(0.3, dev.answering, args=(-1,)).start()
    started = time.monotonic()
    dev._wait_quiet(started + 5)
    assert time.monotonic() - started >= 0.3 + serve.QUIET  # waited for it, then quiet
    started = time.monotonic()
    dev.answering(+1)  # one that never ends: the deadline ends the wait
    dev._wait_quiet(started + 0.2)
    assert 0.2 <= time.monotonic() - started < 5
