"""Write the site atomically: build into a temporary folder, then swap it into place.

A failed or killed build never leaves a half-written `site/`: the old folder stays until the
new one is complete, and the swap itself is one `renameat2(RENAME_EXCHANGE)` call on Linux.

Small incremental changes use `Patch` instead: the changed files are first written in full into
a staging folder beside `site/` (a full disk or a build error stops the build there, with
`site/` untouched), then each is renamed over its old version, which is atomic per file.
Before the first rename a journal beside `site/` lists them all: a build killed among the
renames leaves old and new pages side by side only until the next build (or `clean_stale`)
starts, which finishes the renames from the journal before anything else.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from .errors import SahifaError

TMP_PREFIX = ".sahifa-tmp-"
OLD_PREFIX = ".sahifa-old-"
JOURNAL_PREFIX = ".sahifa-commit-"  # + output name + pid: a Patch commit in progress
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _libc_renameat2() -> object | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.renameat2
    except (OSError, AttributeError):
        return None


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories; False when the system cannot."""
    fn = _libc_renameat2()
    if fn is None:
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)  # type: ignore[operator]
    return rc == 0


# After "<prefix><output name>-": PID, PID.TIME (a replaced site), PID.part (a journal)
_BUILD_SUFFIX = re.compile(r"\d+(\.\d+|\.part)?")


def _left_by(name: str, prefix: str, output: Path) -> bool:
    """`name` is one of this output folder's build leftovers (prefix + its name + -PID...):
    not another's whose name merely starts the same (`site-2` beside `site`)."""
    head = f"{prefix}{output.name}-"
    return name.startswith(head) and _BUILD_SUFFIX.fullmatch(name[len(head) :]) is not None


def clean_stale(output: Path) -> None:
    """Finish a patch a killed build was committing; remove temporary folders left behind by a
    killed build; restore a lost output folder."""
    parent = output.parent if output.parent != Path("") else Path(".")
    if not parent.exists():
        return
    for child in sorted(parent.iterdir()):
        if _left_by(child.name, JOURNAL_PREFIX, output):
            _roll_forward(child, output)
    for child in parent.iterdir():
        if _left_by(child.name, TMP_PREFIX, output):
            shutil.rmtree(child, ignore_errors=True)
    for child in parent.iterdir():
        if _left_by(child.name, OLD_PREFIX, output):
            if not output.exists():
                child.rename(output)  # killed between the two renames of the fallback swap
            else:
                shutil.rmtree(child, ignore_errors=True)


def check_rel(rel: str) -> list[str]:
    """The parts of a relative output path; refuses anything that would land outside the
    folder it is joined to. No '..', no absolute part, no NUL: the path stays under that
    folder (which the build created itself, so it holds no symlinks); resolve() per file
    would cost a stat per component."""
    if not rel or "\x00" in rel or rel.startswith(("/", "\\")) or "\\" in rel:
        raise SahifaError(f"refusing to write unsafe path {rel!r}")
    parts = rel.split("/")
    if "" in parts or "." in parts or ".." in parts:
        raise SahifaError(f"refusing to write unsafe path {rel!r}")
    return parts


def check_inside(root: Path, rel: str) -> Path:
    """The file for `rel` under root; refuses anything that would land outside it."""
    return root.joinpath(*check_rel(rel))


def swap_into_place(tmp: Path, output: Path) -> None:
    """Make the complete folder `tmp` the new `output`, atomically where the system allows."""
    if not output.exists():
        tmp.rename(output)
        return
    if not output.is_dir() or output.is_symlink():
        raise SahifaError(f"{output} exists and is not a folder: move it away or choose --output")
    # The replaced site is parked under a TMP_PREFIX name, which clean_stale only ever deletes.
    # OLD_PREFIX marks a site that must be put back: it exists only between the two renames of
    # the fallback, so a half-deleted replaced site can never be "restored" as site/.
    replaced = output.parent / f"{TMP_PREFIX}{output.name}-{os.getpid()}.{time.time_ns()}"
    if _exchange(tmp, output):
        tmp.rename(replaced)  # tmp now holds the previous site
    else:
        old = output.parent / f"{OLD_PREFIX}{output.name}-{os.getpid()}"
        output.rename(old)
        tmp.rename(output)
        old.rename(replaced)
    discard(replaced)


def discard(folder: Path) -> None:
    """Delete a folder without making the build wait: removing tens of thousands of entries
    takes seconds on some file systems. If the process dies first, `clean_stale` finishes it."""
    try:
        subprocess.Popen(
            ["rm", "-rf", "--", str(folder)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)


def _write_bytes(target: Path | str, data: bytes) -> None:
    # os.open/os.write rather than open(): a buffered file object also asks the system for
    # the file's size, whether it is a terminal and where it is (three calls more per file,
    # 26,000 files at 10,000 articles).
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


class _Stage:
    """A folder beside the output where a build's changed files are written first."""

    def __init__(self, output: Path) -> None:
        self.output = output
        clean_stale(output)
        self.tmp = output.parent / f"{TMP_PREFIX}{output.name}-{os.getpid()}"
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir()
        self._root = f"{self.tmp}/"  # paths as strings: see `write_into`
        self._folders: set[str] = set()  # folders made under tmp

    def put(self, name: str, data: bytes) -> None:
        self.write_into(name, data)
        self.note_written(name)

    def write_into(self, name: str, data: bytes) -> None:
        """Write one file into the folder; safe in a forked worker (the main process then
        calls `note_written`). Paths as strings, not Path objects: a cold build writes
        ~26,000 files, and pathlib's joins and parents took half the time of the writing
        itself (34 against 16 us a file on tmpfs)."""
        check_rel(name)
        target = self._root + name
        self._folder_of(target)
        _write_bytes(target, data)

    def _folder_of(self, target: str) -> None:
        """Make the folder of `target` unless this stage made it already (a site has one
        folder per page: asking the system again for each costs a second)."""
        folder = target.rpartition("/")[0]
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)

    def note_written(self, name: str) -> None:
        pass


class Swap(_Stage):
    """A whole new output folder: changed files written, unchanged ones hard-linked from the
    current site, swapped in by `commit`."""

    def __init__(self, output: Path) -> None:
        output.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(output)

    def keep(self, name: str) -> None:
        """Carry an unchanged file over: the same inode, no bytes written."""
        check_rel(name)
        old = f"{self.output}/{name}"
        if not os.path.isfile(old):
            raise SahifaError(f"cache says {name} is unchanged but it is missing")
        target = self._root + name
        self._folder_of(target)
        os.link(old, target)

    def commit(self, removed: Iterable[str]) -> None:
        swap_into_place(self.tmp, self.output)  # removed files were simply not carried over

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _roll_forward(journal: Path, output: Path) -> None:
    """Finish the renames of a Patch commit that was cut short (see `Patch.commit`)."""
    if journal.name.endswith(".part"):
        journal.unlink(missing_ok=True)  # cut short while written: no rename had started
        return
    try:
        plan = json.loads(journal.read_text(encoding="utf-8"))
        tmp, staged, removed = output.parent / plan["tmp"], plan["staged"], plan["removed"]
    except (OSError, ValueError, KeyError, TypeError):
        journal.unlink(missing_ok=True)  # not one of ours: nothing to finish
        return
    _apply(tmp, output, staged, removed)
    journal.unlink(missing_ok=True)


def _apply(tmp: Path, output: Path, staged: list[str], removed: list[str]) -> None:
    """Rename the staged files over the output's and delete the removed ones. Done again after
    a kill, it picks up where it stopped: a file already renamed is no longer staged."""
    for name in staged:
        source = check_inside(tmp, name)
        if source.is_file():
            target = check_inside(output, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
    for name in removed:
        target = check_inside(output, name)
        target.unlink(missing_ok=True)
        prune_empty(target.parent, output)


class Patch(_Stage):
    """Changed files staged in full beside the output folder, then renamed over the old ones."""

    def __init__(self, output: Path) -> None:
        output.mkdir(parents=True, exist_ok=True)
        super().__init__(output)
        self.staged: list[str] = []
        self._journal: Path | None = None  # while `commit` renames

    def note_written(self, name: str) -> None:
        self.staged.append(name)

    def keep(self, name: str) -> None:
        pass  # already in place

    def commit(self, removed: Iterable[str]) -> None:
        """Rename every staged file into place. The renames are atomic one by one, not as a
        whole: the journal written first lets `clean_stale` finish them if this process dies
        among them, so the output is never left half old, half new past the next build."""
        removed = list(removed)
        journal = self.output.parent / f"{JOURNAL_PREFIX}{self.output.name}-{os.getpid()}"
        plan = {"tmp": self.tmp.name, "staged": self.staged, "removed": removed}
        partial = journal.with_name(journal.name + ".part")
        try:
            partial.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
            partial.replace(journal)  # the journal exists whole or not at all
        finally:
            partial.unlink(missing_ok=True)
        self._journal = journal
        _apply(self.tmp, self.output, self.staged, removed)
        journal.unlink()
        self._journal = None
        self.abort()

    def abort(self) -> None:
        if self._journal is not None and self._journal.exists():
            return  # renames under way: `clean_stale` finishes them from the staged files
        shutil.rmtree(self.tmp, ignore_errors=True)


def prune_empty(folder: Path, root: Path) -> None:
    """Remove folders left empty by a removed page, up to (not including) root."""
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
