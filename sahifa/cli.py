"""Command line: `python build.py [build|serve|entities|check] ...`. A thin layer over the package."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .config import Config, cache_folder, load_config
from .errors import SahifaError

log = logging.getLogger("sahifa")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=Path("site.toml"), help="site.toml (optional)")
    p.add_argument("--content", type=Path, help="content folder (default: content)")
    p.add_argument("--output", type=Path, help="output folder (default: site)")
    p.add_argument("--base-url", help="absolute base URL, e.g. https://example.org/news/")
    p.add_argument("--drafts", action="store_true", default=None, help="include drafts")
    p.add_argument(
        "--future", action="store_true", default=None, help="include future-dated articles"
    )
    p.add_argument(
        "--keep-going", action="store_true", help="skip broken articles instead of failing"
    )
    p.add_argument("-j", "--jobs", type=int, default=0, help="processes (default: all cores)")
    p.add_argument("--no-search", action="store_true", help="skip the search index")
    p.add_argument("--no-cache", action="store_true", help="ignore and do not write .sahifa-cache/")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    p.add_argument("-v", "--verbose", action="store_true", help="print each stage's time")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sahifa", description="Build an Arabic news site.")
    sub = parser.add_subparsers(dest="command")
    _common(parser)
    _common(sub.add_parser("build", help="build the site (the default)"))
    serve = sub.add_parser("serve", help="build, serve and rebuild on change")
    _common(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--open", action="store_true", help="open a browser")
    ents = sub.add_parser("entities", help="list the entities found")
    _common(ents)
    ents.add_argument("--json", action="store_true", help="machine-readable output")
    ents.add_argument("files", nargs="*", type=Path, help="article files to analyse")
    check = sub.add_parser("check", help="check internal links and anchors of the built site")
    _common(check)
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> Config:
    return load_config(
        args.config,
        content_dir=args.content,
        output_dir=args.output,
        base_url=args.base_url,
        drafts=args.drafts,
        future=args.future,
        search=False if getattr(args, "no_search", False) else None,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    level = logging.ERROR if args.quiet else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    try:
        config = config_from(args)
        command = args.command or "build"
        if command == "build":
            return _build(config, args)
        if command == "serve":
            from .serve import serve

            return serve(
                config,
                host=args.host,
                port=args.port,
                open_browser=args.open,
                config_path=args.config,
                cache=not args.no_cache,
            )
        if command == "entities":
            from .entities_cli import entities_command

            return entities_command(config, args.files, as_json=args.json)
        if command == "check":
            from .check import check_command

            return check_command(config)
    except SahifaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # unreadable file, full disk, ...: the message names the file
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


def _build(config: Config, args: argparse.Namespace) -> int:
    from .files import check_output_dir
    from .fingerprint import nothing_changed
    from .writer import clean_stale

    check_output_dir(config)
    cache = None if args.no_cache else cache_folder(config)
    # Nothing changed since the last build: say so before importing the parser and templates.
    report, taken = nothing_changed(config, cache) if cache is not None else (None, None)
    if report is not None:
        clean_stale(config.output_dir)  # what a killed build may have left behind
    else:
        from .incremental import Builder
        from .progress import for_terminal

        jobs = args.jobs or os.cpu_count() or 1
        builder = Builder(config, cache_dir=cache, jobs=jobs, progress=for_terminal(args.quiet))
        report = builder.build(keep_going=args.keep_going, taken=taken)
    if not args.quiet:
        print(f"sahifa: {report.summary()} -> {config.output_dir}")
        if args.verbose:
            print("  " + report.stages())
    if report.skipped:
        print(
            f"sahifa: {len(report.skipped)} article(s) skipped because of errors", file=sys.stderr
        )
        return 3
    return 0
