"""Images in content/: published, sized from their headers, and placed under the base path."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from bs4 import BeautifulSoup

from sahifa.config import load_config
from sahifa.images import image_size, place_images
from sahifa.pipeline import build

from .conftest import make_content


def png(width: int, height: int) -> bytes:
    """A real (grey) PNG of the given size, made here."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_sizes_from_headers():
    assert image_size(png(64, 27)) == (64, 27)
    assert image_size(b"GIF89a" + struct.pack("<HH", 300, 200) + b"\x00" * 10) == (300, 200)
    jpeg = (
        b"\xff\xd8"
        + b"\xff\xe0"
        + struct.pack(">H", 4)
        + b"ab"
        + b"\xff\xc0"
        + struct.pack(">HBHH", 11, 8, 480, 640)
        + b"\x03"
    )
    assert image_size(jpeg + b"\x00" * 8) == (640, 480)
    assert image_size(b"not an image at all") is None


def test_place_images_sizes_known_and_keeps_others():
    html = '<p><img src="/images/a.png" alt="أ" loading="lazy" /></p><p><img src="https://x.org/b.png" alt="" /></p>'
    out = BeautifulSoup(place_images(html, {"/images/a.png": (64, 27)}, "/news/"), "html.parser")
    first, second = out.find_all("img")
    assert (first["src"], first["width"], first["height"]) == ("/news/images/a.png", "64", "27")
    assert second["src"] == "https://x.org/b.png" and not second.has_attr("width")


def test_article_images_published_and_sized(tmp_path: Path):
    content = make_content(
        tmp_path,
        {
            "images/souk.png": png(120, 80),
            "a.md": "---\ntitle: سوق\ndate: 2025-01-01T10:00:00+03:00\nsection: أخبار\n---\n"
            "نص.\n\n![سوق حلب](/images/souk.png)\n",
        },
    )
    out = tmp_path / "site"
    build(
        load_config(None, content_dir=content, output_dir=out, base_url="https://example.org/news/")
    )
    assert (out / "images" / "souk.png").read_bytes() == png(120, 80)
    page = BeautifulSoup((out / "أخبار" / "سوق" / "index.html").read_text("utf-8"), "html.parser")
    img = page.select_one(".body img")
    assert (img["src"], img["width"], img["height"], img["loading"]) == (
        "/news/images/souk.png",
        "120",
        "80",
        "lazy",
    )
