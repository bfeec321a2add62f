"""`python build.py check`: every internal link and #anchor of the built site must resolve.

Links are read from the HTML (href, src, srcset, form actions, canonical and og: URLs), the
sitemaps, the feeds and robots.txt. A link is internal when it is relative, root-relative, or an
absolute URL under the site's base URL; it resolves when the file exists in the output folder
(a folder counts when it has an index.html) and, for `#id`, when the target page has that id.
A root-relative link outside the base path (`/x` on a site served under `/news/`) is broken:
it would leave the site once deployed.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from .config import Config

_SCHEMES_IGNORED = ("mailto:", "tel:", "javascript:", "data:", "sms:")
_URL_ATTRS = {
    "a": ("href",),
    "area": ("href",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "script": ("src",),
    "iframe": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "form": ("action",),
}
_META_URLS = {"og:url", "og:image", "twitter:image"}


@dataclass(frozen=True, order=True)
class Broken:
    page: str  # the file holding the link, relative to the site folder
    link: str
    reason: str


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.base_href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v for k, v in attrs if v is not None}
        if "id" in values:
            self.ids.add(values["id"])
        if tag == "a" and "name" in values:
            self.ids.add(values["name"])
        if tag == "base" and "href" in values:
            self.base_href = values["href"]
        if tag == "meta" and values.get("property", values.get("name")) in _META_URLS:
            if "content" in values:
                self.links.append(values["content"])
        if tag == "link" and values.get("rel", "").lower() in ("preconnect", "dns-prefetch"):
            return
        for attr in _URL_ATTRS.get(tag, ()):
            value = values.get(attr)
            if value is None:
                continue
            if attr == "srcset":
                self.links += [c.strip().split()[0] for c in value.split(",") if c.strip()]
            else:
                self.links.append(value)


@dataclass
class _Page:
    ids: set[str]
    links: list[str]
    base_href: str | None


class SiteChecker:
    """Resolves links against one built site folder."""

    def __init__(self, root: Path, base_url: str) -> None:
        self.root = root
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        parts = urlsplit(self.base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.base_path = parts.path or "/"
        self._pages: dict[Path, _Page] = {}

    def page(self, path: Path) -> _Page:
        if path not in self._pages:
            parser = _PageParser()
            parser.feed(path.read_text(encoding="utf-8", errors="replace"))
            parser.close()
            self._pages[path] = _Page(parser.ids, parser.links, parser.base_href)
        return self._pages[path]

    def page_url(self, rel: str) -> str:
        """The site URL of a file: 'a/index.html' -> '<base path>a/'."""
        url = self.base_path + rel
        return url.removesuffix("index.html") if url.endswith("/index.html") else url

    def target(self, link: str, from_url: str) -> tuple[Path | None, str, str | None]:
        """(file, fragment, problem) for an internal link; (None, '', None) when external."""
        link = link.strip()
        if not link or link.lower().startswith(_SCHEMES_IGNORED):
            return None, "", None
        parts = urlsplit(link)
        if parts.scheme or parts.netloc:
            scheme = parts.scheme or urlsplit(self.base_url).scheme
            if f"{scheme}://{parts.netloc}" != self.origin:
                return None, "", None  # another site
            path = parts.path or "/"
        else:
            path = urlsplit(urljoin(from_url, link)).path
        fragment = unquote(parts.fragment)
        path = unquote(path)
        if not (path + "/").startswith(self.base_path):
            return None, fragment, f"outside the base path {self.base_path}"
        rel = path[len(self.base_path) :]
        if any(p == ".." for p in rel.split("/")):
            return None, fragment, "points above the site folder"
        file = self.root / rel if rel else self.root
        if path.endswith("/") or file.is_dir():
            file = file / "index.html"
        if not file.is_file():
            return None, fragment, "no such file"
        return file, fragment, None

    def check_link(self, page_rel: str, link: str) -> Broken | None:
        if link.strip() == "#":
            return None  # "top of this page"
        from_url = self.page_url(page_rel)
        file, fragment, problem = self.target(link, from_url)
        if problem:
            return Broken(page_rel, link, problem)
        if file is None or not fragment or file.suffix != ".html":
            return None
        if fragment not in self.page(file).ids:
            return Broken(page_rel, link, f"no element with id {fragment!r}")
        return None


def _xml_links(path: Path) -> list[str]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return []
    links: list[str] = []
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag in ("loc", "link", "guid") and el.text and el.text.strip():
            links.append(el.text.strip())
        if tag == "link" and el.get("href"):
            links.append(el.get("href", ""))
        if tag == "guid" and el.get("isPermaLink") == "false":
            links.pop()
    return links


def _json_links(path: Path) -> list[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(data, dict) or "version" not in data:
        return []
    links = [data.get(k) for k in ("home_page_url", "feed_url")]
    for item in data.get("items", []):
        links += [item.get("url"), item.get("image")]
    return [x for x in links if isinstance(x, str)]


def _files(root: Path) -> list[Path]:
    return [path for path in sorted(root.rglob("*")) if path.is_file()]


def check_site(root: Path, base_url: str) -> tuple[list[Broken], int, int]:
    """(broken links, files checked, links checked) for the site in `root`."""
    checker = SiteChecker(root, base_url)
    broken: set[Broken] = set()
    files = links = 0
    for path in _files(root):
        rel = path.relative_to(root).as_posix()
        if path.suffix == ".html":
            found = checker.page(path).links
        elif path.suffix == ".xml":
            found = _xml_links(path)
        elif path.suffix == ".json":
            found = _json_links(path)
        elif path.name == "robots.txt":
            text = path.read_text(encoding="utf-8")
            found = [ln.split(":", 1)[1].strip() for ln in text.splitlines()
                     if ln.lower().startswith("sitemap:")]  # fmt: skip
        else:
            continue
        files += 1
        for link in found:
            links += 1
            problem = checker.check_link(rel, link)
            if problem:
                broken.add(problem)
    return sorted(broken), files, links


def built_base_url(root: Path) -> str | None:
    """The base URL the site was built with: the home page's canonical URL."""
    parser = _CanonicalParser()
    parser.feed((root / "index.html").read_text(encoding="utf-8", errors="replace"))
    return parser.canonical


class _CanonicalParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.canonical: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and values.get("rel") == "canonical" and self.canonical is None:
            self.canonical = values.get("href")


def check_command(config: Config) -> int:
    """Print each broken internal link with its page; 1 when there is any, else 0."""
    root = config.output_dir
    if not (root / "index.html").is_file():
        print(f"error: {root} has no built site (run `python build.py` first)", file=sys.stderr)
        return 1
    base_url = built_base_url(root) or config.base_url
    broken, files, links = check_site(root, base_url)
    for item in broken:
        print(f"{item.page}: broken link {item.link!r} ({item.reason})")
    status = f"{len(broken)} broken" if broken else "all resolve"
    print(f"sahifa check: {files} files, {links} links, {status}", file=sys.stderr)
    return 1 if broken else 0
