"""An editor's day on the sample site, one change after another: settings in site.toml, drafts,
renames, the entity list, scraped text, a manifest, images, a template override. After each
change the cached build (`python build.py`) must leave exactly the site a build without cache
makes, byte for byte: a cache that trusts what it should not shows up here as a stale file."""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import pytest

from sahifa.cli import main

from .conftest import ROOT


def _png(width: int, height: int) -> bytes:
    rows = b"".join(b"\x00" + b"\x80" * (width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + (chunk(b"IEND", b""))
    )


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


class _Site:
    def __init__(self, root: Path) -> None:
        self.root = root
        shutil.copytree(ROOT / "content", root / "content")
        self.toml = root / "site.toml"
        self.toml.write_text("", "utf-8")

    def build(self, output: str, *extra: str) -> None:
        args = [
            "-q",
            "--no-search",
            "--config",
            str(self.toml),
            "--output",
            str(self.root / output),
        ]
        assert main([*args, *extra]) == 0

    def check(self, step: str) -> None:
        """The cached build against a build without cache, after `step`."""
        self.build("site")
        shutil.rmtree(self.root / "fresh", ignore_errors=True)
        self.build("fresh", "--no-cache")
        cached, fresh = _files(self.root / "site"), _files(self.root / "fresh")
        stale = sorted(n for n in cached.keys() | fresh.keys() if cached.get(n) != fresh.get(n))
        assert not stale, f"after {step}: {stale[:5]}"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> _Site:
    monkeypatch.chdir(tmp_path)  # site.toml's paths are relative to it
    made = _Site(tmp_path)
    made.check("the first build")
    return made


SETTINGS = [
    ("per_page", "per_page = 3\n"),
    ("digits", 'per_page = 3\ndigits = "arabic-indic"\n'),
    ("months", 'per_page = 3\nmonths = "levantine"\n'),
    ("offline", "offline = false\n"),
    ("ascii_slugs", "ascii_slugs = true\n"),
    ("title and publisher", 'title = "الجريدة"\npublisher = "دار النشر"\n'),
    ("news_days", "news_days = 1\n"),
    ("related_count", "related_count = 2\n"),
    ("base_url", 'base_url = "https://example.org/news/"\n'),
    ("default_section", 'default_section = "محليات"\n'),
    ("back to the defaults", ""),
]


def test_each_setting_changed_in_turn(site: _Site):
    (site.root / "content" / "no-section.md").write_text(
        "---\ntitle: خبر بلا قسم\ndate: 2025-01-02T10:00:00+03:00\n---\nوصل الوفد إلى حلب.\n",
        "utf-8",
    )  # an article that takes `default_section`
    site.check("a story without a section")
    for step, text in SETTINGS:
        site.toml.write_text(text, "utf-8")
        site.check(step)


def test_content_changed_in_turn(site: _Site):
    content = site.root / "content"
    story = sorted(content.glob("*.md"))[0]
    text = story.read_text("utf-8")
    story.write_text(text.replace("---\n", "---\ndraft: true\n", 1), "utf-8")
    site.check("a story made a draft")
    story.write_text(text, "utf-8")
    site.check("the draft published again")
    derby = content / "sport-aleppo-derby.md"
    kept = derby.read_text("utf-8").replace("---\n", "---\nslug: aleppo-derby\n", 1)
    derby.write_text(kept, "utf-8")
    site.check("a story given its slug")
    kept = kept.replace("تعادل مثير في قمة", "تعادل مثير ومتأخر في قمة", 1)
    derby.write_text(kept, "utf-8")
    site.check("its headline corrected (the quick build)")
    derby.write_text(kept.replace("هدف في الدقيقة الأخيرة", "هدف متأخر", 1), "utf-8")
    site.check("its summary rewritten (the quick build)")
    story.rename(story.with_name("renamed-" + story.name))
    site.check("a file renamed")
    names = content / "entities.toml"
    listed = names.read_text("utf-8")
    names.write_text(listed.replace("[place]\n", '[place]\n"حمص" = []\n', 1), "utf-8")
    site.check("a name added to entities.toml")
    names.write_text(listed, "utf-8")
    site.check("the name taken out again")
    scraped = sorted(content.glob("*.txt"))[0]
    first, _, rest = scraped.read_text("utf-8").partition("\n")
    scraped.write_text(f"{first} محدث\n{rest}", "utf-8")
    site.check("a scraped text's title edited")
    manifest = site.root / "manifest.csv"
    manifest.write_text(f"file,date,category\n{scraped.name},2024-05-01T10:00:00+03:00,تقارير\n")
    site.toml.write_text('manifest = "manifest.csv"\n', "utf-8")
    site.check("a manifest added")
    manifest.write_text(f"file,date,category\n{scraped.name},2024-06-01T10:00:00+03:00,محليات\n")
    site.check("a manifest row changed")


def test_images_and_templates_changed_in_turn(site: _Site):
    content = site.root / "content"
    (content / "img").mkdir()
    photo = content / "img" / "photo.png"
    photo.write_bytes(_png(40, 30))
    story = sorted(content.glob("*.md"))[1]
    text = story.read_text("utf-8")
    story.write_text(text + "\n![صورة](img/photo.png)\n", "utf-8")
    site.check("an image added to a story")
    photo.write_bytes(_png(80, 20))
    site.check("the image resized")
    photo.unlink()
    story.write_text(text, "utf-8")
    site.check("the image taken out")
    own = site.root / "tpl"
    own.mkdir()
    site.toml.write_text('templates_dir = "tpl"\n', "utf-8")
    (own / "footer.html").write_text("<footer><p>تذييل خاص</p></footer>\n", "utf-8")
    site.check("a template overridden")
    (own / "footer.html").unlink()
    site.check("the override removed")
