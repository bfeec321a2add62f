"""Progress bars: on a terminal only, never with -q, never in logs; -v prints stage counts."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from sahifa import progress
from sahifa.config import load_config
from sahifa.incremental import Builder

from .conftest import ROOT, make_content


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_silent_unless_on_a_terminal_and_not_quiet():
    assert type(progress.for_terminal(False, io.StringIO())) is progress.Progress
    assert type(progress.for_terminal(True, FakeTerminal())) is progress.Progress
    assert isinstance(progress.for_terminal(False, FakeTerminal()), progress.BarProgress)


def test_bar_draws_each_stage_on_the_terminal(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(progress, "SHOW_AFTER_SECONDS", 0)
    content = make_content(
        tmp_path, {f"a{i}.md": f"---\ntitle: عنوان {i}\n---\nنص {i}.\n" for i in range(3)}
    )
    config = load_config(None, content_dir=content, output_dir=tmp_path / "site", search=False)
    screen = FakeTerminal()
    Builder(config, progress=progress.BarProgress(screen)).build()
    drawn = screen.getvalue()
    assert "read:" in drawn and "find entities:" in drawn and "render:" in drawn
    assert "/3 [" in drawn  # the read stage counts the 3 articles


def test_cli_prints_no_bar_into_a_pipe_and_stage_counts_with_v(tmp_path: Path):
    make_content(tmp_path, {"a.md": "---\ntitle: خبر\n---\nنص الخبر.\n"})
    env = {**os.environ, "SAHIFA_SEARCH": "0"}
    run = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "-v"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "\r" not in run.stderr and "it/s" not in run.stderr
    assert "read" in run.stdout and "1 read, 1 searched for entities" in run.stdout
    assert "written" in run.stdout
