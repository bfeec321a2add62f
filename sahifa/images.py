"""Images kept beside the articles in content/: published as they are, and given their
intrinsic width and height in the article HTML so the page does not shift while they load.

Sizes are read from the file headers (PNG, GIF, JPEG, WebP) here rather than with an image
library: four small formats, and the build stays free of a compiled dependency.
"""

from __future__ import annotations

import re
import struct

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".avif")


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, GIF, JPEG or WebP header; None when unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        # Start-of-frame markers carry the size; C4 (DHT), C8 and CC are not frames.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and len(data) >= 30:
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    return None


_IMG = re.compile(r'<img src="(/[^"]*)"([^>]*)>')


def place_images(html: str, sizes: dict[str, tuple[int, int]], base_path: str) -> str:
    """Give every <img> that shows one of the site's images its size, and its URL under the
    site's base path (an author writes `/images/a.jpg`; under `/news/` it must be
    `/news/images/a.jpg`)."""
    if "<img" not in html:
        return html

    def fix(match: re.Match[str]) -> str:
        src, rest = match.group(1), match.group(2)
        size = sizes.get(src)
        if size is None:
            return match.group(0)
        if " width=" not in rest:
            rest = f' width="{size[0]}" height="{size[1]}"' + rest
        return f'<img src="{base_path}{src.lstrip("/")}"{rest}>'

    return _IMG.sub(fix, html)
