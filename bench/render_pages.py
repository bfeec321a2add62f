"""Microseconds to render one page, by template, in one process: the render stage's Jinja and
head-metadata work without the noise of forking, writing and the disk (a cold build's wall
time on this machine moves by 10-20 % from one run to the next; this moves by ~2-3 %).

    python bench/render_pages.py CONTENT [--template article.html entity.html] [--repeat 5]

Reads and links CONTENT as a build does (`Builder.site`), then renders every page of each
template `--repeat` times and prints the best pass per page: what to compare before and after
a change to the templates or to `render.py`/`seo.py`. Also prints each template's share of
the page keys (`render.context_key`) and page-store rows (`pagestore.pack`), the other two
things a cold build does per page.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from sahifa import pagestore, render
from sahifa.config import load_config
from sahifa.incremental import Builder, _stored_context
from sahifa.render import KeyMemo, PageJob


def full_jobs(builder: Builder, jobs: list[PageJob]) -> list[PageJob]:
    """Article pages with their bodies unpacked, as a render worker has them."""
    out = []
    for job in jobs:
        article = job.context.get("article")
        if job.template == "article.html" and not (article.body_html or article.text):
            job = replace(job, context={**job.context, "article": builder._full(article)})
        out.append(job)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("content", type=Path)
    parser.add_argument("--template", nargs="*", default=[])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    config = load_config(None, content_dir=args.content, output_dir=Path("/nonexistent"))
    builder = Builder(config)
    site = builder.site()
    env = render.make_env(config)
    by_template: dict[str, list[PageJob]] = defaultdict(list)
    for job in full_jobs(builder, list(render.page_jobs(site, config))):
        if not args.template or job.template in args.template:
            by_template[job.template].append(job)
    memo = KeyMemo(render.shown_fields(env))
    print(f"{'template':22} {'pages':>6} {'render us':>10} {'key us':>8} {'row us':>8}")
    for name, jobs in sorted(by_template.items(), key=lambda item: -len(item[1])):
        best = min(_timed(_render_all, env, jobs) for _ in range(args.repeat))
        key = _timed(_key_all, memo, jobs)
        row = _timed(_row_all, config, jobs)
        n = len(jobs)
        print(f"{name:22} {n:6d} {best / n * 1e6:10.1f} {key / n * 1e6:8.1f} {row / n * 1e6:8.1f}")


def _render_all(env: Any, jobs: list[PageJob]) -> None:
    for job in jobs:
        render.render_job(env, job)


def _key_all(memo: KeyMemo, jobs: list[PageJob]) -> None:
    for job in jobs:
        render.context_key(job, memo)


def _row_all(config: Any, jobs: list[PageJob]) -> None:
    for job in jobs:
        pagestore.pack(_stored_context(job, config))


def _timed(fn: Callable[..., None], *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
