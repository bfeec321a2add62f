"""Site configuration: `site.toml` (optional) merged over sensible Arabic defaults."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path

from .errors import ConfigError


@dataclass(frozen=True)
class Config:
    title: str = "صحيفة"
    description: str = "أخبار ومقالات"
    base_url: str = "http://localhost:8000/"
    lang: str = "ar"
    content_dir: Path = Path("content")
    output_dir: Path = Path("site")
    theme_dir: Path = field(
        default_factory=lambda: Path(__file__).resolve().parent.parent / "templates"
    )
    templates_dir: Path | None = None  # the site's own overrides, searched before the theme
    per_page: int = 20
    related_count: int = 5
    months: str = "standard"  # standard | levantine | maghrebi
    digits: str = "latin"  # latin | arabic-indic
    ascii_slugs: bool = False
    default_section: str = "أخبار"
    drafts: bool = False
    future: bool = False
    manifest: Path | None = None  # CSV with file,date[,category][,slug] for scraped text
    publisher: str = ""
    search: bool = True  # build the search index (`search.py`)
    offline: bool = True  # web app manifest + a service worker that keeps read articles offline
    extra_css: tuple[str, ...] = ()  # stylesheets after the theme's: ["/static/brand.css"]
    news_days: int = 7  # the front page's "في الأخبار" counts mentions in these last days

    @cached_property  # a frozen dataclass keeps it in __dict__: asked for on every page
    def base_path(self) -> str:
        """The path part of the base URL, always ending in '/': '/news/' or '/'."""
        rest = self.base_url.split("://", 1)[-1]
        path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        return path if path.endswith("/") else path + "/"


_PATHS = {"content_dir", "output_dir", "theme_dir", "templates_dir", "manifest"}


def load_config(path: Path | None = None, **overrides: object) -> Config:
    """Read `site.toml` (if it exists) and apply command-line overrides (None = not given)."""
    values: dict[str, object] = {}
    root = Path(".")
    if path is not None and path.exists():
        root = path.parent
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        known = {f.name for f in fields(Config)}
        for key, value in data.items():
            if key not in known:
                raise ConfigError(f"{path}: unknown setting {key!r}")
            values[key] = root / value if key in _PATHS else value
    values.update({k: v for k, v in overrides.items() if v is not None})
    for key in _PATHS:
        if isinstance(values.get(key), str):
            values[key] = Path(values[key])  # type: ignore[arg-type]
    if "templates_dir" not in values and (root / "templates").resolve() != Config().theme_dir:
        if (root / "templates").is_dir():
            values["templates_dir"] = root / "templates"
    config = replace(Config(), **values)  # type: ignore[arg-type]
    if not config.base_url.endswith("/"):
        config = replace(config, base_url=config.base_url + "/")
    if config.months not in ("standard", "levantine", "maghrebi"):
        raise ConfigError(f"months must be standard, levantine or maghrebi, not {config.months!r}")
    return config


CACHE_NAME = ".sahifa-cache"  # the build cache, beside the output folder


def cache_folder(config: Config) -> Path:
    """Where `python build.py` keeps its cache (and `serve` its own, in `serve/` under it)."""
    return config.output_dir.parent / CACHE_NAME


def config_id(config: Config) -> str:
    """The config as the caches key it: its repr with every folder made absolute, so the
    same site named from its own folder or by a full path (`--content content` and
    `--content /srv/news/content`) is the same config and renders no page again."""
    folders = {
        f.name: Path(os.path.abspath(value))
        for f in fields(config)
        if isinstance(value := getattr(config, f.name), Path)
    }
    return repr(replace(config, **folders))


SEARCH_SWITCH = "SAHIFA_SEARCH"  # the environment's say over the search index


def search_enabled(config: Config | None = None) -> bool:
    """Indexing is on unless `search = false` in site.toml or SAHIFA_SEARCH is 0/false/no/off."""
    if config is not None and not config.search:
        return False
    return os.environ.get(SEARCH_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")
