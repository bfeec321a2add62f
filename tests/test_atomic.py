"""Atomic output: a killed or failed build never leaves site/ half-written or half-replaced.

The build writes into a fresh `.sahifa-tmp-site-PID/` and swaps it in with one
`renameat2(RENAME_EXCHANGE)`; the next build removes whatever a killed one left behind.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sahifa.config import load_config
from sahifa.errors import ContentError
from sahifa.incremental import Builder
from sahifa.writer import JOURNAL_PREFIX, OLD_PREFIX, TMP_PREFIX, clean_stale

from .conftest import ROOT

WORDS = (
    "دمشق حلب بيروت القاهرة بغداد وزارة الثقافة الاقتصاد المعرض الكتاب الطلاب المدارس السوق "
    "النفط المياه الفرات الجامعة المستشفى الصحة الطقس الحرارة المطر المزارعين الحكومة"
).split()
SECTIONS = ("سياسة", "ثقافة", "اقتصاد", "رياضة", "صحة")


def generate(content: Path, n: int, version: str = "") -> None:
    """n articles; `version` changes the first few titles so that a rebuild has work to do."""
    rnd = random.Random(n)
    content.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        title = " ".join(rnd.choice(WORDS) for _ in range(5)) + f" {i}"
        if i < 8 and version:
            title += f" {version}"
        para = " ".join(rnd.choice(WORDS) for _ in range(30)) + "."
        (content / f"a{i:03d}.md").write_text(
            f"---\ntitle: {title}\ndate: 2024-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00+03:00\n"
            f"section: {SECTIONS[i % 5]}\n---\n{para}\n\n## قسم\n\n{para}\n",
            encoding="utf-8",
        )


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def leftovers(parent: Path) -> list[str]:
    prefixes = (TMP_PREFIX, OLD_PREFIX, JOURNAL_PREFIX)
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(prefixes))


def built_site(tmp_path: Path) -> tuple[Path, Path, Any, str]:
    """Three articles built once: (content, site, config, digest of the site)."""
    content = tmp_path / "content"
    generate(content, 3)
    out = tmp_path / "site"
    config = load_config(None, content_dir=content, output_dir=out)
    Builder(config).build()
    return content, out, config, digest(out)


def journals(parent: Path) -> list[Path]:
    return [p for p in parent.iterdir() if p.name.startswith(JOURNAL_PREFIX)]


def cli(cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SAHIFA_SEARCH": "0", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "--content", "content", "--output", "site",
         "-q", *args],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,  # so the kill reaches the worker processes too
    )  # fmt: skip


def run_cli(cwd: Path, *args: str) -> None:
    proc = cli(cwd, *args)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()


def wait_for_rm(parent: Path, timeout: float = 10.0) -> None:
    """The replaced site is deleted in the background; give that a moment."""
    deadline = time.monotonic() + timeout
    while leftovers(parent) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_sigkill_never_leaves_a_half_written_site(tmp_path: Path):
    """SIGKILL the CLI build at random moments (mostly while it writes); site/ is always one
    complete build, and the next build clears what the killed one left behind."""
    n = 300
    content = tmp_path / "content"
    versions = ("", "ب")
    expected: dict[str, str] = {}
    for version in versions:  # reference sites: an unkilled build of each version
        generate(content, n, version)
        run_cli(tmp_path)
        expected[version] = digest(tmp_path / "site")
    assert len(set(expected.values())) == 2
    rnd = random.Random(20250101)
    kills = torn = 0
    for i in range(20):
        version = versions[i % 2]
        generate(content, n, version)
        proc = cli(tmp_path, *(("--no-cache",) if i % 10 == 0 else ()))
        # Most kills land in the write phase: wait until the temporary folder appears.
        early = i % 4 == 3
        deadline = time.monotonic() + 60
        while not early and proc.poll() is None and time.monotonic() < deadline:
            if any(p.name.startswith(TMP_PREFIX) for p in tmp_path.iterdir()):
                break
            time.sleep(0.002)
        time.sleep(rnd.uniform(0, 0.6 if early else 0.25))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        now = digest(tmp_path / "site")
        if now not in expected.values():
            # Killed among a small patch's renames: only the journal may explain a mix, and
            # what the next build does first (clean_stale) must complete this version.
            assert journals(tmp_path), f"iteration {i}: torn site/ and no commit journal"
            clean_stale(tmp_path / "site")
            assert digest(tmp_path / "site") == expected[version], f"iteration {i}"
            torn += 1
    assert kills >= 10, "the builds finished before they could be killed"
    # The next build cleans up after the killed ones and produces the right site.
    run_cli(tmp_path)
    wait_for_rm(tmp_path)
    assert digest(tmp_path / "site") == expected[versions[1]]
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("cut", [0, 1, 5])
def test_patch_cut_short_among_its_renames_is_finished(tmp_path: Path, monkeypatch, cut: int):
    """A small change is staged, then renamed into site/ file by file. Stopped after `cut`
    renames (as by a kill), site/ mixes old and new pages; the next build's first step
    finishes the renames from the journal."""
    content = tmp_path / "content"
    generate(content, 12)
    out, cache = tmp_path / "site", tmp_path / ".cache"
    config = load_config(None, content_dir=content, output_dir=out)
    Builder(config, cache_dir=cache).build()
    generate(content, 12, "تعديل")
    fresh = tmp_path / "fresh"
    Builder(load_config(None, content_dir=content, output_dir=fresh)).build()
    import sahifa.writer as writer

    real, done = os.replace, []

    def replace(src, dst):
        if Path(dst).name.startswith(JOURNAL_PREFIX):
            return real(src, dst)
        if len(done) == cut:
            raise KeyboardInterrupt  # stands in for SIGKILL among the renames
        done.append(dst)
        real(src, dst)

    monkeypatch.setattr(writer.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        Builder(config, jobs=1, cache_dir=cache).build()
    monkeypatch.undo()
    assert len(journals(tmp_path)) == 1 and len(done) == cut
    if cut:
        assert digest(out) != digest(fresh)  # a mix, for now
    clean_stale(out)
    assert digest(out) == digest(fresh)
    assert leftovers(tmp_path) == []
    Builder(config, cache_dir=cache).build()  # the cache was dropped: a full build
    wait_for_rm(tmp_path)
    assert digest(out) == digest(fresh) and leftovers(tmp_path) == []


def test_a_journal_cut_short_itself_changes_nothing(tmp_path: Path):
    """Killed while the journal was written (before any rename): it is dropped, site/ is the
    old site, and the staged files are removed."""
    _, out, _, before = built_site(tmp_path)
    staged = tmp_path / f"{TMP_PREFIX}site-777"
    (staged / "a").mkdir(parents=True)
    (staged / "a" / "index.html").write_text("<p>new", encoding="utf-8")
    plan = '{"output": "site", "tmp": "%s", "staged": ["a/index.html"], "removed": []}'
    (tmp_path / f"{JOURNAL_PREFIX}site-777.part").write_text(plan % staged.name, "utf-8")
    clean_stale(out)
    assert digest(out) == before and leftovers(tmp_path) == []


def test_stale_temporary_folders_are_removed(tmp_path: Path):
    content = tmp_path / "content"
    generate(content, 3)
    out = tmp_path / "site"
    config = load_config(None, content_dir=content, output_dir=out)
    Builder(config, cache_dir=tmp_path / ".cache").build()
    wait_for_rm(tmp_path)
    stale = tmp_path / f"{TMP_PREFIX}site-999999"
    (stale / "half").mkdir(parents=True)
    (stale / "half" / "index.html").write_text("<p>half", encoding="utf-8")
    result = Builder(config, cache_dir=tmp_path / ".cache").build()
    assert result.written == []  # nothing changed, nothing written: and still cleaned up
    assert not stale.exists() and leftovers(tmp_path) == []
    (stale / "half").mkdir(parents=True)
    generate(content, 3, "جديد")
    Builder(config).build()
    wait_for_rm(tmp_path)
    assert not stale.exists() and leftovers(tmp_path) == []


def test_killed_between_the_renames_loses_nothing(tmp_path: Path):
    """Without renameat2 the swap is two renames; a build killed between them leaves only
    `.sahifa-old-site-PID`. A failing build keeps it; the next good build puts it back and
    then replaces it."""
    content, out, config, before = built_site(tmp_path)
    parked = tmp_path / f"{OLD_PREFIX}site-4242"
    out.rename(parked)
    (content / "a000.md").write_text("---\ntitle: [\n---\n", encoding="utf-8")
    with pytest.raises(ContentError):
        Builder(config).build()
    assert digest(parked) == before
    generate(content, 3)
    Builder(config).build()
    wait_for_rm(tmp_path)
    assert digest(out) == before and leftovers(tmp_path) == []


@pytest.mark.parametrize("when", ["read", "render", "write", "patch"])
def test_failure_at_any_stage_keeps_the_previous_site(tmp_path: Path, monkeypatch, when: str):
    """A failure while the new folder is written ("write": no cache, a whole new site is
    swapped in) or while a small change is staged beside the site ("patch": with a cache)."""
    content = tmp_path / "content"
    generate(content, 5)
    out = tmp_path / "site"
    config = load_config(None, content_dir=content, output_dir=out)
    cache = tmp_path / ".cache" if when == "patch" else None
    Builder(config, cache_dir=cache).build()
    before = digest(out)
    generate(content, 5, "تعديل")

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    import sahifa.incremental as inc
    import sahifa.writer as writer

    module, name = {
        "read": (inc, "read_article"),
        "render": (inc, "render_job"),
        "write": (writer, "_write_bytes"),
        "patch": (writer, "_write_bytes"),
    }[when]
    monkeypatch.setattr(module, name, boom)
    staged: list[str] = []
    monkeypatch.setattr(writer.Patch, "keep", lambda self, n: staged.append(n))
    with pytest.raises(OSError):
        Builder(config, jobs=1, cache_dir=cache).build()
    assert digest(out) == before
    assert leftovers(tmp_path) == []
    if when == "patch":
        assert staged  # the small change really took the patch path


def test_crash_after_the_swap_does_not_poison_the_cache(tmp_path: Path, monkeypatch):
    """Killed after the new site is in place but before the cache is saved: the next build
    must not trust the old cache's idea of which files in site/ are unchanged."""
    content = tmp_path / "content"
    out = tmp_path / "site"
    cache = tmp_path / ".sahifa-cache"
    config = load_config(None, content_dir=content, output_dir=out)
    generate(content, 6)
    Builder(config, cache_dir=cache).build()
    site_a = digest(out)
    generate(content, 6, "ب")

    def killed(self):
        raise KeyboardInterrupt  # stands in for SIGKILL right after the swap

    monkeypatch.setattr(Builder, "_save_state", killed)
    with pytest.raises(KeyboardInterrupt):
        Builder(config, cache_dir=cache).build()
    monkeypatch.undo()
    generate(content, 6)  # back to version A
    Builder(config, cache_dir=cache).build()
    assert digest(out) == site_a


def test_build_removes_nothing_outside_its_own_folders(tmp_path: Path):
    """Files next to site/ (the user's own) survive builds and cleanup."""
    content = tmp_path / "content"
    generate(content, 2)
    mine = tmp_path / "site-backup"
    mine.mkdir()
    (mine / "keep.txt").write_text("x", encoding="utf-8")
    (tmp_path / ".sahifa-tmp-other-1").mkdir()  # another site's build, not ours
    # ... nor those of an output folder whose name starts like ours, mid-build
    theirs = [tmp_path / f"{TMP_PREFIX}site-2-77", tmp_path / f"{OLD_PREFIX}site-2-77"]
    for folder in theirs:
        (folder / "a").mkdir(parents=True)
    (tmp_path / f"{JOURNAL_PREFIX}site-2-77.part").write_text("{", encoding="utf-8")
    theirs.append(tmp_path / f"{JOURNAL_PREFIX}site-2-77.part")
    config = load_config(None, content_dir=content, output_dir=tmp_path / "site")
    Builder(config).build()
    Builder(config).build()
    assert (mine / "keep.txt").exists()
    assert (tmp_path / ".sahifa-tmp-other-1").exists()
    assert all(path.exists() for path in theirs)
    shutil.rmtree(tmp_path / ".sahifa-tmp-other-1")
