"""The shared webcheck tool on the sample site: HTML (vnu), accessibility (axe), links, feeds,
sitemaps and 390 px screenshots. Lighthouse is skipped here (slow and noisy on CI machines;
its scores are recorded in docs/theme.md and docs/publishing.md)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from sahifa.config import load_config
from sahifa.pipeline import build

from .conftest import ROOT, SHARED

WEBCHECK = SHARED / "tools" / "webcheck"
pytestmark = pytest.mark.skipif(
    not (WEBCHECK / "webcheck.sh").exists(),
    reason="../shared/tools/webcheck is not beside the checkout",
)


def test_sample_site_passes_webcheck(tmp_path: Path, monkeypatch):
    setup = subprocess.run(
        ["bash", str(WEBCHECK / "setup.sh")], capture_output=True, text=True, timeout=900
    )
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    monkeypatch.setenv("SAHIFA_SEARCH", "1")  # the search page and its index are part of the site
    site = tmp_path / "site"
    build(load_config(None, content_dir=ROOT / "content", output_dir=site))
    out = tmp_path / "report"
    env = {**os.environ, "WEBCHECK_SKIP": "lighthouse", "WEBCHECK_SAMPLE_COUNT": "3"}
    run = subprocess.run(
        ["bash", str(WEBCHECK / "webcheck.sh"), str(site), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    summary = (out / "summary.txt").read_text("utf-8") if (out / "summary.txt").exists() else ""
    assert run.returncode == 0, summary + run.stderr[-3000:]
    checks = json.loads((out / "report.json").read_text("utf-8"))["summary"]
    for name in ("html", "a11y", "links", "feeds", "sitemap", "screenshots"):
        assert checks[name]["status"] == "pass", (name, checks[name])
    assert checks["html"]["errors"] == 0 and checks["a11y"]["violations"] == 0
    assert checks["feeds"]["feeds"] > 0 and checks["sitemap"]["sitemaps"] >= 2
