"""Shared fixtures: a built copy of the sample site, paths to the shared data."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from sahifa.config import load_config
from sahifa.pipeline import build

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SEED = SHARED / "seeds" / "000_f634f729fe338fff.txt"
CORPUS = SHARED / "corpus"
CHROMIUM = Path("/usr/bin/chromium")
# The search index is left out of most builds: tests/test_search.py (and one quick-edit
# test) turn it on.
os.environ.setdefault("SAHIFA_SEARCH", "0")


@pytest.fixture(scope="session")
def sample_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample content built once for the whole test session."""
    out = tmp_path_factory.mktemp("sample") / "site"
    build(load_config(None, content_dir=ROOT / "content", output_dir=out))
    return out


def make_content(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    """A content folder with the given files (text or raw bytes)."""
    content = tmp_path / "content"
    for name, data in files.items():
        path = content / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
    content.mkdir(exist_ok=True)
    return content


def require_chromium() -> None:
    """Browser tests must run in CI; on a developer machine without chromium they skip."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian chromium is required in CI (.ci/run installs it)")
        pytest.skip("no /usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        args = ["--headless", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
        if os.geteuid() == 0:
            args.append("--no-sandbox")
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield b
        b.close()


def copy_sample_content(tmp_path: Path) -> Path:
    dest = tmp_path / "content"
    shutil.copytree(ROOT / "content", dest)
    return dest
