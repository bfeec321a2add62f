"""Reproducible builds: the same content gives byte-identical sites whatever the hash seed,
the order files were created (and are listed) in, their mtimes, the time zone, the number
of processes, or the time of day."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from .conftest import ROOT


def build_in(cwd: Path, content: Path, out: str, *args: str, **env: str) -> Path:
    full_env = {**os.environ, "SAHIFA_SEARCH": "0", "PYTHONPATH": str(ROOT), **env}
    result = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "--content", str(content), "--output", out,
         "--no-cache", "-q", "--base-url", "https://example.org/news/", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return cwd / out


def files(site: Path) -> dict[str, str]:
    return {
        p.relative_to(site).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(site.rglob("*"))
        if p.is_file()
    }


def copy_reversed(src: Path, dest: Path) -> None:
    """The same files, created in the opposite order with other mtimes: another listing order."""
    paths = sorted((p for p in src.rglob("*") if p.is_file()), reverse=True)
    for i, path in enumerate(paths):
        target = dest / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        os.utime(target, (1_000_000_000 + i * 86_400, 1_000_000_000 + i * 86_400))


def test_two_builds_are_byte_identical(tmp_path: Path):
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    extra = {
        "world/كيان.md": "---\ntitle: لقاء في دمشق وبيروت\ndate: 2024-02-03\nentities: [حلب, "
        "دمشق, بيروت, وزارة الثقافة]\ntags: [ج, ب, أ]\n---\nزار الوفد حلب ثم بيروت.\n",
        "world/same-1.md": "---\ntitle: عنوان مكرر\n---\nنص أول بلا تاريخ.\n",
        "world/same-2.md": "---\ntitle: عنوان مكرر\n---\nنص ثان بلا تاريخ.\n",
    }
    for name, text in extra.items():
        (content / name).parent.mkdir(parents=True, exist_ok=True)
        (content / name).write_text(text, encoding="utf-8")
    other = tmp_path / "other"
    copy_reversed(content, other / "content")
    first = build_in(tmp_path, content, "one", "-j", "2", PYTHONHASHSEED="1", TZ="UTC")
    second = build_in(
        other, other / "content", "two", "-j", "1", PYTHONHASHSEED="4242", TZ="Pacific/Kiritimati"
    )
    one, two = files(first), files(second)
    assert sorted(one) == sorted(two)
    differing = [name for name in one if one[name] != two[name]]
    assert differing == [], differing[:10]
    # Nothing of the build's own time shows up in the pages.
    today = datetime.now(UTC).date().isoformat()
    leaks = [
        p.relative_to(first).as_posix()
        for p in first.rglob("*")
        if p.is_file() and today.encode() in p.read_bytes()
    ]
    assert leaks == []
