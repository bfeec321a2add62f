"""`python build.py serve`: build, serve the site as a static host would, rebuild on save.

One process, four kinds of threads, all joined on stop:

* the HTTP server (stdlib `ThreadingHTTPServer`, one thread per connection) serving only files
  under the output folder: pretty URLs, percent-encoded Arabic paths, the site's own 404 page;
* a watchdog observer on the content folder, the templates and site.toml;
* one rebuild worker that waits for ~100 ms of quiet after the last change (so an editor's
  write-temp-then-rename, or a burst of saves, is one rebuild) and calls the incremental builder;
* one thread per open page holding a Server-Sent Events stream (`/__sahifa/events`): after a
  good build it says which files changed (the page reloads, or only swaps its stylesheet); after
  a failed one it sends the error, which the page shows as an overlay over the last good site.

The live-reload script is added to HTML responses here, never to the built files.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import html
import inspect
import json
import os
import queue
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
import uuid
import webbrowser
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import quote, unquote

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from .config import CACHE_NAME, Config, cache_folder, load_config
from .errors import SahifaError

EVENTS_PATH = "/__sahifa/events"
SCRIPT_PATH = "/__sahifa/livereload.js"
SCRIPT_FILE = Path(__file__).resolve().parent / "data" / "livereload.js"
DEBOUNCE = 0.05  # seconds of quiet after the last change before rebuilding (a save
# comes as a burst of events a few ms apart: 2 ms in the serve benchmark)
PREVIEW_GRACE = 0.5  # at most this long the full build waits for a previewed page's reload
QUIET = 0.05  # ... and for this long without a request after it (its stylesheet, scripts)
MAX_DELAY = 1.0  # a stream of saves never postpones a rebuild longer than this
PORT_TRIES = 20  # when the port is taken, try this many following ones
KEEPALIVE = 15.0  # seconds between SSE comments (detects closed pages)
MAX_LISTED = 500  # a build that changed more files than this tells pages "everything"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".svg": "image/svg+xml; charset=utf-8",
    ".webmanifest": "application/manifest+json; charset=utf-8",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".pdf": "application/pdf",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mp3": "audio/mpeg",
}


def content_type(path: Path) -> str:
    """The Content-Type a static host sends for this file; text types say charset=utf-8."""
    return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")


# -------------------------------------------------------------------------------- builds


class Builder(Protocol):
    """sahifa.incremental.Builder: `build()` returns a result with `written` and `removed`
    (site-relative files); it raises SahifaError, leaving the served site as it was, when an
    article or template is broken."""

    jobs: int

    def build(self) -> Any: ...


SERVE_CACHE = Path(CACHE_NAME) / "serve"  # beside the output folder, in the build's cache


def default_builder(
    config: Config, cache_dir: Path | None = None, seed_dir: Path | None = None
) -> Builder:
    """The incremental builder, state in memory, changed files replaced one by one in place.

    The preview builds no search index: an edit would re-index its shard of the index
    (~0.2 s at 10,000 articles) on top of the 300 ms a save may take. `python build.py` does.
    `cache_dir`: a build cache of the server's own (`preview_site`), so that starting the server
    again reads and renders only what changed since it last ran, not the whole site (25 s at
    10,000 articles)."""
    from .incremental import Builder as IncrementalBuilder

    config = dataclasses.replace(config, search=False)
    return IncrementalBuilder(
        config, in_place=True, jobs=os.cpu_count() or 1, cache_dir=cache_dir, seed_dir=seed_dir
    )


def preview_site(config: Config, cache: bool = True) -> tuple[Config, Callable[[Config], Builder]]:
    """What `python build.py serve` builds and serves: the site in a folder of its own,
    `.sahifa-cache/serve/site/` beside the output folder, with the server's build cache beside
    it, and a builder for it. The output folder is what `python build.py` writes and a host
    deploys: a preview with drafts, future stories or a local base URL never lands there, and
    the build after a preview session stays incremental."""
    seed = cache_folder(config)  # a first start takes the build command's per-article work
    folder = config.output_dir.parent / SERVE_CACHE
    shown = dataclasses.replace(config, output_dir=folder / "site")
    if not cache:
        return shown, default_builder
    return shown, functools.partial(default_builder, cache_dir=folder, seed_dir=seed)


def _run(builder: Builder, changed: set[Path] | None) -> Any:
    """builder.build(), telling it what changed when it can use that."""
    if "changed" in inspect.signature(builder.build).parameters:
        return builder.build(changed=changed)  # type: ignore[call-arg]
    return builder.build()


# ------------------------------------------------------------------------ change filter

_TEMP_SUFFIXES = (
    ".swp", ".swo", ".swx", ".swpx", ".tmp", ".temp", ".bak", ".orig", ".rej", ".part",
    ".crdownload", ".kate-swp", "___jb_tmp___", "___jb_old___", "~",
)  # fmt: skip
_TEMP_NAMES = re.compile(r"^(\d+|sed[A-Za-z0-9]{6}|tmp[A-Za-z0-9_]{6,}|#.*#)$")


def is_editor_temp(name: str) -> bool:
    """True for editor swap, backup and temp files (vim, emacs, JetBrains, gedit, sed -i...)."""
    return (
        name.startswith(".")  # .foo.md.swp, .#foo.md, .goutputstream-X, .foo.md.tmp
        or name.lower().endswith(_TEMP_SUFFIXES)
        or bool(_TEMP_NAMES.match(name))  # vim's 4913 probe, sed -i, mkstemp, emacs #foo#
    )


@dataclass(frozen=True)
class _Watch:
    root: Path
    recursive: bool
    only: frozenset[str] = frozenset()  # for a non-recursive watch: the file names that count


def _watches(config: Config, config_path: Path | None) -> list[_Watch]:
    watches: list[_Watch] = []
    seen: set[Path] = set()
    for folder in (config.content_dir, config.templates_dir, config.theme_dir):
        if folder is None or not Path(folder).is_dir():
            continue
        root = Path(folder).absolute()
        if root not in seen:
            seen.add(root)
            watches.append(_Watch(root, True))
    singles: dict[Path, set[str]] = {}
    for file in (config_path, config.manifest):
        if file is None:
            continue
        file = Path(file).absolute()
        if any(file.is_relative_to(w.root) for w in watches):
            continue
        singles.setdefault(file.parent, set()).add(file.name)
    for parent, names in singles.items():
        if parent.is_dir():
            watches.append(_Watch(parent, False, frozenset(names)))
    return watches


class _Changes(FileSystemEventHandler):
    """Collects changed paths from watchdog; ignores reads, temp files and the output folder."""

    def __init__(self, watches: list[_Watch], output: Path, notify: Callable[[Path], None]):
        self.watches = watches
        self.output = output.absolute()
        self.notify = notify

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in ("created", "modified", "moved", "deleted"):
            return  # opened / closed events: the builder's own reads must not trigger builds
        if event.is_directory and event.event_type == "modified":
            return  # a folder's mtime changes whenever a file in it does
        paths = [event.src_path, getattr(event, "dest_path", "") or ""]
        for raw in paths:
            if raw:
                path = Path(os.fsdecode(raw))
                if self.counts(path):
                    self.notify(path)

    def counts(self, path: Path) -> bool:
        if path.is_relative_to(self.output) or path.name.startswith(".sahifa-"):
            return False
        for watch in self.watches:
            if not path.is_relative_to(watch.root) or path == watch.root:
                continue
            rel = path.relative_to(watch.root)
            if not watch.recursive:
                return len(rel.parts) == 1 and rel.name in watch.only
            return not any(part.startswith(".") for part in rel.parts) and not is_editor_temp(
                path.name
            )
        return False


# -------------------------------------------------------------------------------- events


class _Hub:
    """Fans server-sent events out to every open page."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clients: set[queue.SimpleQueue[str | None]] = set()
        self.server_id = uuid.uuid4().hex[:12]
        self.generation = 0  # good builds so far: the version of the site being served
        self.error: str | None = None
        self.closed = False

    def hello(self) -> str:
        return _sse(
            "hello", {"server": self.server_id, "build": self.generation, "error": self.error}
        )

    def subscribe(self) -> queue.SimpleQueue[str | None]:
        q: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        with self.lock:
            self.clients.add(q)
            q.put(None if self.closed else self.hello())
        return q

    def unsubscribe(self, q: queue.SimpleQueue[str | None]) -> None:
        with self.lock:
            self.clients.discard(q)

    def good(self, result: Any) -> None:
        written = list(result.written)
        removed = list(getattr(result, "removed", []))
        many = len(written) + len(removed) > MAX_LISTED
        with self.lock:
            self.generation += 1
            self.error = None
            message = _sse(
                "build",
                {
                    "build": self.generation,
                    "written": None if many else written,
                    "removed": None if many else removed,
                    "css_only": bool(getattr(result, "css_only", False)),
                },
            )
            self._send(message)

    def broken(self, error: str) -> None:
        with self.lock:
            self.error = error
            self._send(_sse("broken", {"build": self.generation, "error": error}))

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self._send(None)

    def _send(self, message: str | None) -> None:
        for q in self.clients:
            q.put(message)


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


# ---------------------------------------------------------------------------------- HTTP


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every connection thread
    block_on_close = True

    def __init__(self, address: tuple[str, int], dev: DevServer) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.dev = dev
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), which can take seconds without DNS
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: object, client_address: object) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return  # the page went away; nothing to report
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Unblock every connection thread (idle keep-alive, SSE) so it can be joined."""
        with self.conn_lock:
            for conn in list(self.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "sahifa-serve"
    sys_version = ""
    protocol_version = "HTTP/1.0"
    timeout = 30  # an idle connection (a browser's pre-connect) does not hold a thread forever

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.dev.verbose:
            sys.stderr.write(f"sahifa: {self.address_string()} {format % args}\n")

    def do_GET(self) -> None:
        self._counted(head=False)

    def do_HEAD(self) -> None:
        self._counted(head=True)

    def _counted(self, head: bool) -> None:
        if self.path.partition("?")[0] == EVENTS_PATH:  # a stream, open as long as the page
            return self._respond(head)
        dev = self.server.dev
        dev.answering(+1)
        try:
            self._respond(head)
        finally:
            dev.answering(-1)

    # --------------------------------------------------------------------------------

    def _respond(self, head: bool) -> None:
        dev = self.server.dev
        target, _, query = self.path.partition("?")
        target = target.partition("#")[0]
        if target == EVENTS_PATH and not head:
            return self._events()
        if target == SCRIPT_PATH:
            return self._send(200, SCRIPT_FILE.read_bytes(), content_type(SCRIPT_FILE), head)
        found = resolve(dev.config.output_dir, dev.config.base_path, target)
        if isinstance(found, _Redirect):
            location = quote(found.path, safe="/") + ("?" + query if query else "")
            return self._send(301, b"", "text/plain; charset=utf-8", head, location=location)
        if isinstance(found, int):
            if found == 400:
                return self._send(400, b"bad request\n", "text/plain; charset=utf-8", head)
            return self._not_found(head)
        self._file(200, found, dev.config.output_dir, head)

    def _not_found(self, head: bool) -> None:
        root = self.server.dev.config.output_dir
        page = _inside(root, root / "404.html")
        if page is None:
            body = b"404 not found (the site has no 404.html)\n"
            return self._send(404, body, "text/plain; charset=utf-8", head)
        self._file(404, page, root, head)

    def _file(self, status: int, path: Path, root: Path, head: bool) -> None:
        try:
            data = path.read_bytes()
        except OSError:  # removed by a rebuild between resolving and reading
            if status == 404:
                return self._send(404, b"404 not found\n", "text/plain; charset=utf-8", head)
            return self._not_found(head)
        kind = content_type(path)
        if kind.startswith("text/html"):
            page = path.relative_to(root.resolve()).as_posix()
            data = inject(data, self.server.dev.snippet(page, status))
        self._send(status, data, kind, head)

    def _send(
        self, status: int, body: bytes, kind: str, head: bool, location: str | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        if location:
            self.send_header("Location", location)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _events(self) -> None:
        hub = self.server.dev.hub
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        q = hub.subscribe()
        try:
            self.wfile.write(b"retry: 500\n\n")
            while True:
                try:
                    message = q.get(timeout=KEEPALIVE)
                except queue.Empty:
                    message = ": keep-alive\n\n"
                if message is None:
                    return
                self.wfile.write(message.encode("utf-8"))
        except (ConnectionError, TimeoutError, OSError):
            return
        finally:
            hub.unsubscribe(q)


@dataclass(frozen=True)
class _Redirect:
    path: str


def _inside(root: Path, path: Path) -> Path | None:
    """path, fully resolved, if it is a file under root (symlinks followed); else None."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not real.is_relative_to(root.resolve()) or not real.is_file():
        return None
    return real


def resolve(root: Path, base_path: str, target: str) -> Path | _Redirect | int:
    """Map a request path to a file under root the way a static host does.

    Returns the file, a redirect (a folder asked for without its trailing slash, or the site
    root when the base URL has a sub-path), or 400 / 404. `..` in any spelling is a 400; a
    symlink that leads outside root is a 404, as is anything under a hidden name.
    """
    if not target.startswith("/"):
        return 400
    try:
        path = unquote(target, errors="strict")
    except UnicodeDecodeError:
        return 400
    if "\x00" in path or "\\" in path:
        return 400
    segments = path.split("/")
    if any(s in (".", "..") for s in segments):
        return 400
    full = path
    if base_path != "/":
        if path + "/" == base_path:
            return _Redirect(base_path)
        if not path.startswith(base_path):
            return 404
        path = path[len(base_path) - 1 :]
    parts = [s for s in path.split("/") if s]
    candidate = root.joinpath(*parts)
    if candidate.is_dir():
        if not path.endswith("/"):
            return _Redirect(full + "/")
        candidate = candidate / "index.html"
    found = _inside(root, candidate)
    return 404 if found is None else found


_BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)
_HEAD_END = re.compile(rb"</head\s*>", re.IGNORECASE)
# sahifa.js registers no service worker on a page marked so (a worker's cache would hide edits)
PREVIEW_META = b'<meta name="sahifa-preview" content="serve">\n'


def inject(page: bytes, snippet: bytes) -> bytes:
    """The page marked as a preview in its <head>, with snippet added before its last </body>
    (or at its end)."""
    ends = list(_BODY_END.finditer(page))
    at = ends[-1].start() if ends else len(page)
    page = page[:at] + snippet + page[at:]
    head = _HEAD_END.search(page, 0, at)
    if head is not None:
        page = page[: head.start()] + PREVIEW_META + page[head.start() :]
    return page


# ------------------------------------------------------------------------------- server


class DevServer:
    """Build, serve and rebuild. `start()` returns once the site is served; `stop()` joins all."""

    def __init__(
        self,
        config: Config,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        config_path: Path | None = Path("site.toml"),
        builder_factory: Callable[[Config], Builder] = default_builder,
        debounce: float = DEBOUNCE,
        out: IO[str] | None = None,
        verbose: bool = False,
    ) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.config_path = config_path
        self.builder_factory = builder_factory
        self.debounce = debounce
        self.out = out
        self.verbose = verbose
        self.hub = _Hub()
        self.builds = 0  # rebuild attempts after the first build (tests count them)
        self.last_build: Any = None
        self.build_seconds = 0.0  # the last good build, in the builder
        self.notify_seconds = 0.0  # the last good build, from the first change seen to pages told
        self.preview_seconds = 0.0  # the last one-article preview, from the change to pages told
        self._page_served = threading.Event()  # an HTML page went out (after a preview)
        self._requests = 0  # requests being answered (not counting event streams)
        self._last_answer = 0.0  # when the last one was answered (time.monotonic)
        self._builder: Builder | None = None
        self._good_once = False
        self._dirty: set[Path] = set()  # changes not yet in a good build
        self._lock = threading.Lock()
        self._pending: set[Path] = set()
        self._config_changed = False
        self._last_change = 0.0
        self._first_change = 0.0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._observer: Any = None
        self._overrides = self._cli_overrides()

    # ----------------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        assert self._httpd is not None, "not started"
        host, port = self._httpd.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else str(host)
        return f"http://{shown}:{port}{self.config.base_path}"

    def start(self) -> None:
        self._say(f"sahifa: building {self.config.content_dir} ...")
        self._build(None, first=True)
        self._httpd, note = self._bind()
        if note:
            self._say(note)
        self._spawn("sahifa-http", self._httpd.serve_forever, 0.2)
        self._spawn("sahifa-rebuild", self._rebuild_loop)
        self._watch()
        self._say(f"sahifa: serving {self.config.output_dir} at {self.url}  (Ctrl-C to stop)")

    def stop(self) -> None:
        """Stop watching, finish a running build, close every page's stream, join threads."""
        self._stopping.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
            self._observer = None
        self.hub.close()
        if self._httpd is not None:
            if any(t.name == "sahifa-http" for t in self._threads):
                self._httpd.shutdown()
            self._httpd.drop_connections()
            self._httpd.server_close()
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def __enter__(self) -> DevServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, target: Callable[..., object], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name)
        thread.start()
        self._threads.append(thread)

    def _bind(self) -> tuple[_HTTPServer, str]:
        if self.port == 0:
            return _HTTPServer((self.host, 0), self), ""
        for port in range(self.port, min(self.port + PORT_TRIES, 65536)):
            try:
                server = _HTTPServer((self.host, port), self)
            except OSError as exc:
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    continue
                raise SahifaError(f"cannot serve on {self.host}:{port}: {exc.strerror}") from None
            if port == self.port:
                return server, ""
            return server, f"sahifa: port {self.port} is in use; using port {port} instead"
        raise SahifaError(
            f"ports {self.port} to {self.port + PORT_TRIES - 1} on {self.host} are all in use;"
            " choose another with --port"
        )

    def _watch(self) -> None:
        watches = _watches(self.config, self.config_path)
        handler = _Changes(watches, self.config.output_dir, self._changed)
        observer = Observer()
        for watch in watches:
            observer.schedule(handler, str(watch.root), recursive=watch.recursive)
        observer.start()
        self._observer = observer

    # -------------------------------------------------------------------------- builds

    def _changed(self, path: Path) -> None:
        with self._lock:
            if not self._pending:
                self._first_change = time.monotonic()
            self._pending.add(path)
            if self.config_path is not None and path == Path(self.config_path).absolute():
                self._config_changed = True
            self._last_change = time.monotonic()
            self._wake.set()

    def _rebuild_loop(self) -> None:
        while True:
            self._wake.wait()
            if self._stopping.is_set():
                return
            first = time.monotonic()
            while True:  # wait for DEBOUNCE of quiet, at most MAX_DELAY in all
                with self._lock:
                    quiet_at = self._last_change + self.debounce
                now = time.monotonic()
                if now >= quiet_at or now - first >= MAX_DELAY:
                    break
                if self._stopping.wait(quiet_at - now):
                    return
            with self._lock:
                changed, self._pending = self._pending, set()
                config_changed, self._config_changed = self._config_changed, False
                self._wake.clear()
                since = self._first_change
            if config_changed:
                self._reload_config()
            elif len(changed) == 1:
                self._preview(next(iter(changed)), since)
            self._build(changed, since=since)

    def _preview(self, path: Path, since: float) -> None:
        """One article saved: show the editor its page at once (sahifa.incremental's
        `Builder.preview`), then let the full build bring the rest of the site up to date."""
        preview = getattr(self._builder, "preview", None)
        if preview is None or not self._good_once or self.hub.error is not None:
            return
        try:
            result = preview(path)
        except Exception:  # anything odd: the full build that follows reports it
            return
        if result is not None and result.written:
            self._page_served.clear()
            listening = bool(self.hub.clients)
            self.hub.good(result)
            self.preview_seconds = time.monotonic() - since if since else 0.0
            if listening:
                # Let the open pages fetch the new page, and what it loads, before the full
                # build starts: the build holds the interpreter for seconds on a large site,
                # and a request served beside it waits for its share (measured: 0.8 s instead
                # of 0.1 s for the page; its stylesheet and scripts likewise).
                deadline = time.monotonic() + PREVIEW_GRACE
                if self._page_served.wait(PREVIEW_GRACE):
                    self._wait_quiet(deadline)

    def _wait_quiet(self, deadline: float) -> None:
        """Until no request has been open for QUIET seconds, or the deadline."""
        while (now := time.monotonic()) < deadline:
            with self._lock:
                quiet = self._requests == 0 and now - self._last_answer >= QUIET
            if quiet:
                return
            time.sleep(0.01)

    def answering(self, delta: int) -> None:
        """A request starts (+1) or has been answered (-1): `_wait_quiet` watches them."""
        with self._lock:
            self._requests += delta
            self._last_answer = time.monotonic()

    def _reload_config(self) -> None:
        try:
            config = load_config(self.config_path, **self._overrides)
        except SahifaError as exc:
            self._failed(str(exc))
            return
        if config != self.config:
            self.config = config
            self._builder = None  # a new builder, a full build
            if self._observer is not None:
                self._observer.unschedule_all()
                self._observer.stop()
                self._observer.join()
                self._watch()

    def _cli_overrides(self) -> dict[str, object]:
        """The settings given on the command line: those that differ from site.toml alone."""
        if self.config_path is None:
            return {}
        try:
            plain = load_config(self.config_path)
        except SahifaError:
            plain = load_config(None)
        return {
            f.name: getattr(self.config, f.name)
            for f in fields(Config)
            if getattr(self.config, f.name) != getattr(plain, f.name)
        }

    def _build(self, changed: set[Path] | None, first: bool = False, since: float = 0.0) -> None:
        t0 = time.perf_counter()
        if not first:
            self.builds += 1
        if changed is not None:
            self._dirty |= changed
        try:
            if self._builder is None:
                self._builder = self.builder_factory(self.config)
                self._good_once = False
            exact = self._good_once  # after a failure, or for a new builder: a full look
            result = _run(self._builder, set(self._dirty) if exact else None)
        except SahifaError as exc:
            self._failed(str(exc))
            return
        except Exception as exc:  # a bug rather than a broken file: report it, keep serving
            traceback.print_exc(file=sys.stderr)
            self._failed(f"{type(exc).__name__}: {exc}")
            return
        finally:
            if first and self._builder is not None:
                # Later builds run beside the server's threads, where forking is not safe;
                # they re-render a few pages, which one process does fastest anyway.
                self._builder.jobs = 1
        self._good_once = True
        self._dirty.clear()
        self.last_build = result
        seconds = time.perf_counter() - t0
        written = list(result.written)
        was_broken = self.hub.error is not None
        if first or was_broken or written or list(getattr(result, "removed", [])):
            self.hub.good(result)  # a save that changed no output tells no page
        self.build_seconds = seconds
        self.notify_seconds = time.monotonic() - since if since else seconds
        if first:
            self._say(f"sahifa: built {_count(written)} in {seconds:.2f} s")
        else:
            fixed = "fixed; " if was_broken else ""
            what = "stylesheet only" if getattr(result, "css_only", False) else "rebuilt"
            self._say(f"sahifa: {fixed}{what}: {_count(written)} changed in {seconds:.2f} s")

    def _failed(self, message: str) -> None:
        print(f"error: {message}", file=sys.stderr, flush=True)
        print("sahifa: still serving the last good site; fix the file to rebuild", file=sys.stderr)
        self.hub.broken(message)

    # ---------------------------------------------------------------------------- pages

    def snippet(self, page: str, status: int) -> bytes:
        """The live-reload tag added to every served HTML page."""
        self._page_served.set()
        attrs = {
            "src": SCRIPT_PATH,
            "data-events": EVENTS_PATH,
            "data-page": page,
            "data-status": str(status),
            "data-server": self.hub.server_id,
            "data-build": str(self.hub.generation),
            "data-base": self.config.base_path,
        }
        error = self.hub.error
        if error is not None:
            attrs["data-error"] = error
        text = " ".join(f'{k}="{html.escape(v, quote=True)}"' for k, v in attrs.items())
        return f"<script {text}></script>\n".encode()

    def _say(self, message: str) -> None:
        print(message, file=self.out or sys.stdout, flush=True)


def _count(files: Iterable[str]) -> str:
    n = len(list(files))
    return "1 file" if n == 1 else f"{n} files"


# ----------------------------------------------------------------------------------- CLI


def serve(
    config: Config,
    host: str = "127.0.0.1",
    port: int = 8000,
    open_browser: bool = False,
    config_path: Path | None = Path("site.toml"),
    cache: bool = True,
) -> int:
    """`python build.py serve`: runs until Ctrl-C (or SIGTERM); returns the exit code.
    `cache=False` (`--no-cache`): no build cache, the first build reads the whole site."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"sahifa: warning: serving on {host}: other machines can read the site", file=sys.stderr
        )
    shown, factory = preview_site(config, cache)
    server = DevServer(shown, host, port, config_path=config_path, builder_factory=factory)
    main = threading.current_thread() is threading.main_thread()
    old_int = signal.getsignal(signal.SIGINT)
    old_term = signal.signal(signal.SIGTERM, _interrupt) if main else None
    try:
        server.start()
        if open_browser:
            webbrowser.open(server.url)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nsahifa: stopping", file=sys.stderr)
    finally:
        if main:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut cleanup
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            server.stop()
        finally:
            if main:
                signal.signal(signal.SIGINT, old_int)
                signal.signal(signal.SIGTERM, old_term or signal.SIG_DFL)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
